// `cloudterm local --stop-terminals`: ends every terminal of a data directory. Local terminals
// are detached agent processes by design (they survive a gateway restart, like tmux sessions),
// so stopping the gateway leaves them running; this is how a user makes everything go.
//
// The agents are found by what makes them this directory's: each listens on a unix socket in its
// `sockets/` folder (local-backend.ts), which is on its command line. That finds them whether or
// not a gateway runs, and whichever store (the snapshot, Redis) holds their records.
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

export interface StoppedTerminals {
  /** Agents that were running. */
  readonly found: number;
  /** Of those, the ones that had not ended within the grace period and were killed. */
  readonly killed: number;
}

/**
 * An agent ends its program (SIGHUP, then SIGKILL after 5 s) and gives its attachments the exit
 * status before it exits: this leaves it the time to.
 */
const GRACE_MS = 8_000;
const POLL_MS = 50;

/** Pids of the agents serving terminals of `dataDir` (zombies have no command line: not counted). */
export async function terminalAgents(dataDir: string): Promise<number[]> {
  const socketPrefix = `unix:${join(dataDir, 'sockets')}/`;
  const pids: number[] = [];
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const args = (await readFile(`/proc/${entry}/cmdline`, 'utf8').catch(() => '')).split('\0');
    const listen = args.indexOf('--listen');
    if (args.includes('agent') && listen !== -1 && args[listen + 1]?.startsWith(socketPrefix)) pids.push(Number(entry));
  }
  return pids;
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
  const running = new Set(await terminalAgents(dataDir));
  return pids.filter((pid) => running.has(pid));
}

/** SIGTERM to each agent; SIGKILL to those still there after the grace period. */
export async function stopTerminals(dataDir: string, graceMs = GRACE_MS): Promise<StoppedTerminals> {
  const pids = await terminalAgents(dataDir);
  for (const pid of pids) signal(pid, 'SIGTERM');
  const deadline = Date.now() + graceMs;
  let left = await alive(pids, dataDir);
  while (left.length > 0 && Date.now() < deadline) {
    await sleep(POLL_MS);
    left = await alive(left, dataDir);
  }
  for (const pid of left) signal(pid, 'SIGKILL');
  return { found: pids.length, killed: left.length };
}
