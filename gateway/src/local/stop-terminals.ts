// `cloudterm local --stop-terminals`: ends every terminal of a data directory. Local terminals
// are detached agent processes by design (they survive a gateway restart, like tmux sessions),
// so stopping the gateway leaves them running; this is how a user makes everything go.
//
// The processes are found by what makes them this directory's: each terminal host (and each agent
// of the one-process-per-terminal mode before hosts) listens on a unix socket in its `sockets/`
// folder (host-pool.ts), which is on its command line. That finds them whether or not a gateway
// runs, and whichever store (the snapshot, Redis) holds their records. A host asked for SIGTERM
// ends every terminal it holds, as an agent ends its one.
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { hostStatus } from '../sessions/host-client.js';

export interface StoppedTerminals {
  /** Terminals that were running. */
  readonly found: number;
  /** Of the processes serving them, the ones that had not ended within the grace period and were killed. */
  readonly killed: number;
}

/**
 * A host ends its programs (SIGHUP, then SIGKILL after 5 s) and gives their attachments the exit
 * status (at most 5 s more) before it exits: this leaves it the time to.
 */
const GRACE_MS = 12_000;
const STATUS_TIMEOUT_MS = 2_000;

interface TerminalProcess {
  readonly pid: number;
  /** The host's socket; null for an agent serving one terminal. */
  readonly hostSocket: string | null;
}
const POLL_MS = 50;

/** The hosts and agents serving terminals of `dataDir` (zombies have no command line: not counted). */
export async function terminalProcesses(dataDir: string): Promise<TerminalProcess[]> {
  const socketPrefix = `unix:${join(dataDir, 'sockets')}/`;
  const found: TerminalProcess[] = [];
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const args = (await readFile(`/proc/${entry}/cmdline`, 'utf8').catch(() => '')).split('\0');
    const at = args.indexOf('--listen');
    const listen = at === -1 ? undefined : args[at + 1];
    if (!listen?.startsWith(socketPrefix)) continue;
    if (args.includes('agent-host')) found.push({ pid: Number(entry), hostSocket: listen.slice('unix:'.length) });
    else if (args.includes('agent')) found.push({ pid: Number(entry), hostSocket: null });
  }
  return found;
}

/** How many terminals a process serves: an agent one, a host as many as it says. */
async function terminalCount({ hostSocket }: TerminalProcess): Promise<number> {
  if (hostSocket === null) return 1;
  const status = await hostStatus(hostSocket, STATUS_TIMEOUT_MS);
  return status?.status === 200 ? status.body.terminals.length : 0;
}

function signal(pid: number, name: NodeJS.Signals): void {
  try {
    process.kill(pid, name);
  } catch (error) {
    // Gone already: that is what was wanted.
    if ((error as NodeJS.ErrnoException).code !== 'ESRCH') throw error;
  }
}

async function alive(pids: readonly number[], dataDir: string): Promise<number[]> {
  const running = new Set((await terminalProcesses(dataDir)).map((process) => process.pid));
  return pids.filter((pid) => running.has(pid));
}

/** SIGTERM to each host and agent; SIGKILL to those still there after the grace period. */
export async function stopTerminals(dataDir: string, graceMs = GRACE_MS): Promise<StoppedTerminals> {
  const processes = await terminalProcesses(dataDir);
  const counts = await Promise.all(processes.map(terminalCount));
  const pids = processes.map((process) => process.pid);
  for (const pid of pids) signal(pid, 'SIGTERM');
  const deadline = Date.now() + graceMs;
  let left = await alive(pids, dataDir);
  while (left.length > 0 && Date.now() < deadline) {
    await sleep(POLL_MS);
    left = await alive(left, dataDir);
  }
  for (const pid of left) signal(pid, 'SIGKILL');
  return { found: counts.reduce((sum, count) => sum + count, 0), killed: left.length };
}
