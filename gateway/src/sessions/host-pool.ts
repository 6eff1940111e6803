// Local mode's terminal hosts: a few `cloudterm agent-host` processes, each serving many terminals
// on a unix socket of the data directory (sockets/host-<n>.sock). A few rather than one, so that a
// host that crashes takes only its share of terminals. Hosts start on demand, detached: they
// outlive a gateway restart (like tmux), and the next gateway adopts them by their sockets.
// Each host's event stream says which terminals ended; its end without a stop is a crash, which
// ends the terminals it held, with the reason.
import { spawn } from 'node:child_process';
import { open, readFile } from 'node:fs/promises';
import type { ClientRequest } from 'node:http';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { ConfigError } from '../../../core/src/config/options.js';
import { hostArgs, type AgentStatus, type ExitStatus, type HostLaunch } from '../../../agent/src/index.js';
import { agentEnvironment } from './agent-environment.js';
import { hostRequest, hostStatus, watchHost } from './host-client.js';

export interface HostPoolOptions {
  readonly socketDir: string;
  readonly logDir: string;
  /** How to run this program: e.g. [node, main.js] or [node, --import, tsx, main.ts]. */
  readonly selfCommand: readonly string[];
  readonly launch: Omit<HostLaunch, 'socketPath'>;
  /** The gateway's environment: hosts get only the part a login shell should (agentEnvironment). */
  readonly env: Readonly<Record<string, string | undefined>>;
  /** How many hosts terminals are spread over. */
  readonly size: number;
  /** How long a new host has to answer. */
  readonly startTimeoutMs: number;
}

/** A terminal ended: its session id and why (its program's exit, or its host's crash). */
export type EndedListener = (sessionId: string, reason: string) => void;

/** How long a question to a host may take before it counts as unreachable. */
export const HOST_REQUEST_TIMEOUT_MS = 2_000;
const POLL_MS = 20;

interface Slot {
  readonly socketPath: string;
  readonly logFile: string;
  pid: number | null;
  /**
   * The terminals of this slot, as far as this gateway knows, each with the pid of the host that
   * holds it: null while it is being opened (no host has it yet, and the one asked may be exiting).
   */
  readonly terminals: Map<string, number | null>;
  watch: ClientRequest | null;
  /** Set while the host is being started or adopted. */
  ready: Promise<void> | null;
  /** How the host this gateway started exited, once it did. */
  exit: string | null;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

export function describeExit({ code, signal }: ExitStatus): string {
  return signal ? `its program was ended by signal ${signal}` : `its program exited with code ${code}`;
}

export class HostPool {
  private readonly slots: Slot[];
  private closed = false;

  constructor(
    private readonly options: HostPoolOptions,
    private readonly onEnded: EndedListener,
  ) {
    this.slots = Array.from({ length: options.size }, (_, n) => ({
      socketPath: join(options.socketDir, `host-${n}.sock`),
      logFile: join(options.logDir, `host-${n}.log`),
      pid: null,
      terminals: new Map<string, number | null>(),
      watch: null,
      ready: null,
      exit: null,
    }));
  }

  /** The socket path of every host of the pool (also how `--stop-terminals` and tests find them). */
  get socketPaths(): string[] {
    return this.slots.map((slot) => slot.socketPath);
  }

  /** Adopts the hosts a previous gateway left running, to hear when their terminals end. */
  async adoptRunning(): Promise<void> {
    await Promise.all(this.slots.map((slot) => this.ensure(slot, false)));
  }

  /** Opens a terminal on the least loaded host (started if need be); resolves with its shell's pid. */
  async open(sessionId: string, size: { cols: number; rows: number }): Promise<{ socketPath: string; pid: number }> {
    const slot = this.slots.reduce((best, candidate) => (candidate.terminals.size < best.terminals.size ? candidate : best));
    // Counted at once, so that a burst of opens spreads over the hosts.
    slot.terminals.set(sessionId, null);
    try {
      for (let attempt = 1; ; attempt++) {
        await this.ensure(slot, true);
        const host = slot.pid;
        const answer = await hostRequest<AgentStatus | { error: { code: string; message: string } }>(slot.socketPath, 'PUT', `/terminals/${sessionId}`, this.options.startTimeoutMs, size);
        if (answer?.status === 201) {
          slot.terminals.set(sessionId, host);
          return { socketPath: slot.socketPath, pid: (answer.body as AgentStatus).pid };
        }
        const refusal = answer === null ? null : (answer.body as { error: { code: string; message: string } }).error;
        // A host that exits as its last terminal ended may do so just as this one is opened: once, a new one.
        if (attempt === 1 && (refusal === null || refusal.code === 'host_stopping')) {
          await this.gone(slot);
          continue;
        }
        throw new Error(refusal?.message ?? `its host (${slot.socketPath}) did not answer`);
      }
    } catch (error) {
      slot.terminals.delete(sessionId);
      throw error;
    }
  }

  close(): void {
    this.closed = true;
    for (const slot of this.slots) slot.watch?.destroy();
  }

  /** The host of `slot` answering and watched: adopted when one runs, else started when `start`. */
  private ensure(slot: Slot, start: boolean): Promise<void> {
    if (slot.watch) return Promise.resolve();
    slot.ready ??= this.adopt(slot)
      .then((adopted) => (adopted || !start ? undefined : this.start(slot)))
      .finally(() => {
        slot.ready = null;
      });
    return slot.ready;
  }

  /** Resolves once the host of `slot` is gone (or after the time a stopping host takes). */
  private async gone(slot: Slot): Promise<void> {
    const deadline = Date.now() + 2 * HOST_REQUEST_TIMEOUT_MS;
    while (Date.now() < deadline && (slot.watch !== null || (slot.pid !== null && alive(slot.pid)))) await sleep(POLL_MS);
  }

  private async adopt(slot: Slot): Promise<boolean> {
    const status = await hostStatus(slot.socketPath, HOST_REQUEST_TIMEOUT_MS);
    if (status?.status !== 200 || status.body.host !== true) return false;
    slot.pid = status.body.pid;
    for (const id of status.body.terminals) slot.terminals.set(id, status.body.pid);
    this.watch(slot);
    return true;
  }

  private async start(slot: Slot): Promise<void> {
    const log = await open(slot.logFile, 'a', 0o600);
    const [command, ...prefix] = this.options.selfCommand;
    const child = spawn(command!, [...prefix, 'agent-host', ...hostArgs({ ...this.options.launch, socketPath: slot.socketPath })], {
      detached: true,
      stdio: ['ignore', log.fd, log.fd],
      env: agentEnvironment(this.options.env),
    });
    await log.close();
    slot.exit = null;
    // This child's own exit: the host it replaces may report its exit only now, and that must
    // neither end this start nor name this host's end.
    let exited: string | null = null;
    child.once('exit', (code, signal) => {
      exited = signal ? `killed by ${signal}` : `exited with code ${code}`;
      if (slot.pid === null || slot.pid === child.pid) slot.exit = exited;
    });
    child.unref();

    const deadline = Date.now() + this.options.startTimeoutMs;
    while (Date.now() < deadline && exited === null) {
      // Ready means this host answering: a socket file may be a dead host's until it is replaced.
      const status = await hostStatus(slot.socketPath, HOST_REQUEST_TIMEOUT_MS);
      if (status?.status === 200 && status.body.pid === child.pid) {
        slot.pid = child.pid;
        this.watch(slot);
        return;
      }
      await sleep(POLL_MS);
    }
    if (exited !== null) {
      // A host that refused its configuration (its program gone, say) printed why to its log.
      const reasons = ConfigError.problemsPrintedIn(await readFile(slot.logFile, 'utf8').catch(() => ''));
      if (reasons.length > 0) throw new Error(`it could not start: ${reasons.join('; ')}`);
      throw new Error(`its terminal host ${exited} as soon as it started (see ${slot.logFile})`);
    }
    child.kill('SIGKILL');
    throw new Error(`its terminal host did not start within the timeout (see ${slot.logFile})`);
  }

  private watch(slot: Slot): void {
    slot.watch = watchHost(
      slot.socketPath,
      (event) => {
        if (!slot.terminals.delete(event.ended)) return;
        this.onEnded(event.ended, describeExit(event.exit));
      },
      () => {
        slot.watch = null;
        if (!this.closed) void this.lost(slot);
      },
    );
  }

  /** The event stream ended: the host stopped or died. Either way its terminals are gone. */
  private async lost(slot: Slot): Promise<void> {
    const pid = slot.pid;
    // A stopping host ends its terminals (each reported) before it exits; wait for the exit.
    const deadline = Date.now() + HOST_REQUEST_TIMEOUT_MS;
    while (pid !== null && alive(pid) && Date.now() < deadline) await sleep(POLL_MS);
    if (pid !== null && alive(pid)) {
      // Still there: the stream broke, not the host. Watch it again (unless a new host has the slot).
      if (!this.closed && slot.watch === null && (await this.adopt(slot))) return;
    }
    const reason = `its terminal host (pid ${pid}) ${slot.exit ?? 'ended'} unexpectedly`;
    if (slot.pid === pid) slot.pid = null;
    // This host's terminals only: one being opened as it went is asked of a new host (open()
    // retries), and one opened meanwhile is the new host's.
    for (const [id, host] of slot.terminals) {
      if (host === null || host !== pid) continue;
      slot.terminals.delete(id);
      this.onEnded(id, reason);
    }
  }
}
