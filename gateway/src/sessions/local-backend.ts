// Local mode: terminals run in a small pool of terminal hosts (host-pool.ts), detached processes
// on unix sockets in the data directory, so they outlive a gateway restart (like tmux): the
// restarted gateway adopts the hosts and finds its terminals again through the session records.
// A record's endpoint is its host's socket; its pid is the terminal's program (its shell).
// Records of one-process-per-terminal agents (before terminal hosts) are still stopped and
// checked as such: their pid is the agent's, and its command line names the session.
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { SessionRecord } from '../store/types.js';
import { MAX_UNIX_SOCKET_PATH_BYTES, parseListenAddress } from '../../../core/src/net/listen-address.js';
import { ConfigError } from '../../../core/src/config/options.js';
import type { StartRequest, StartedTerminal, TerminalBackend } from './backend.js';
import { HOST_REQUEST_TIMEOUT_MS, HostPool } from './host-pool.js';
import { hostRequest, terminalStatus } from './host-client.js';
import type { AgentStatus, HostStatus } from '../../../agent/src/index.js';

export interface LocalBackendOptions {
  readonly dataDir: string;
  /** How to run this program: e.g. [node, main.js] or [node, --import, tsx, main.ts]. */
  readonly selfCommand: readonly string[];
  readonly attachPublicKeyFile: string;
  /** The command a terminal runs; null for the agent's default (the login shell). */
  readonly shell: readonly string[] | null;
  /** Where each terminal is recorded (<session id>.cast; the directory exists); null: not recorded. */
  readonly recordDir: string | null;
  /** How many terminal hosts terminals are spread over. */
  readonly terminalHosts: number;
  /** The gateway's environment: hosts get only the part a login shell should (agentEnvironment). */
  readonly env: Readonly<Record<string, string | undefined>>;
  /** How long a new host, and a new terminal, have to answer. */
  readonly startTimeoutMs: number;
  /** How long a stopped terminal has to end its program. */
  readonly stopTimeoutMs: number;
}

const POLL_MS = 20;

async function commandLine(pid: number): Promise<string[]> {
  // A dead process's zombie has no command line.
  return (await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '')).split('\0');
}

/** Whether `pid` runs and is a terminal host's child (a reused pid is someone else's). */
async function isHostedProgram(pid: number): Promise<boolean> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => '');
  // "pid (comm) state ppid ...": comm may hold spaces and parentheses, so read after the last ')'.
  const [state, ppid] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  if (!state || state === 'Z' || !ppid) return false;
  return (await commandLine(Number(ppid))).includes('agent-host');
}

function signal(pid: number, name: NodeJS.Signals): void {
  try {
    process.kill(pid, name);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ESRCH') throw error;
  }
}

export class LocalBackend implements TerminalBackend {
  private readonly listeners: Array<(id: string, reason: string) => void> = [];
  private readonly socketDir: string;
  private readonly logDir: string;
  private readonly pool: HostPool;
  private closed = false;

  constructor(private readonly options: LocalBackendOptions) {
    this.socketDir = join(options.dataDir, 'sockets');
    this.logDir = join(options.dataDir, 'logs');
    this.pool = new HostPool(
      {
        socketDir: this.socketDir,
        logDir: this.logDir,
        selfCommand: options.selfCommand,
        // A host with no terminal left exits: closing every terminal leaves no process behind.
        launch: { publicKeyFile: options.attachPublicKeyFile, recordDir: options.recordDir, command: options.shell, exitWhenIdle: true },
        env: options.env,
        size: options.terminalHosts,
        startTimeoutMs: options.startTimeoutMs,
      },
      (id, reason) => {
        if (!this.closed) for (const listener of this.listeners) listener(id, reason);
      },
    );
    const socketPathBytes = Math.max(...this.pool.socketPaths.map((path) => Buffer.byteLength(path)));
    if (socketPathBytes > MAX_UNIX_SOCKET_PATH_BYTES) {
      const allowed = Buffer.byteLength(options.dataDir) - (socketPathBytes - MAX_UNIX_SOCKET_PATH_BYTES);
      throw new ConfigError([
        `--data-dir ${options.dataDir} is too long for the terminals' unix sockets (${socketPathBytes} bytes each; at most ${MAX_UNIX_SOCKET_PATH_BYTES} work): choose one of at most ${allowed} bytes`,
      ]);
    }
    // Hosts a previous gateway started: their terminals' ends are heard from now on.
    void this.pool.adoptRunning();
  }

  get recording(): boolean {
    return this.options.recordDir !== null;
  }

  async start(request: StartRequest): Promise<StartedTerminal> {
    // Only the user may open the sockets: the directory is 0700.
    await mkdir(this.socketDir, { recursive: true, mode: 0o700 });
    await mkdir(this.logDir, { recursive: true, mode: 0o700 });
    const { socketPath, pid } = await this.pool.open(request.id, { cols: request.cols, rows: request.rows });
    return { endpoint: `unix:${socketPath}`, pid };
  }

  /**
   * The socket a record's terminal is served on. Not only this pool's hosts: replicas sharing Redis
   * with data directories of their own reap, stop and count each other's terminals, and a replica
   * that asked only its own hosts took another's live terminal for one whose host was gone.
   */
  private socketOf(record: SessionRecord): string | null {
    const address = parseListenAddress(record.endpoint, '127.0.0.1');
    return typeof address !== 'string' && 'path' in address ? address.path : null;
  }

  /** Whether the session's terminal is still there: its host holds it, or (host unreachable) its program runs. */
  async isRunning(record: SessionRecord): Promise<boolean> {
    if (record.pid === null) return false;
    if ((await commandLine(record.pid)).includes(record.id)) return true;
    const host = this.socketOf(record);
    const answer = host === null ? null : await terminalStatus(host, record.id, HOST_REQUEST_TIMEOUT_MS);
    return answer ? answer.status === 200 : isHostedProgram(record.pid);
  }

  /**
   * One `GET /status` per socket (socketOf): a host's counts every terminal it holds, an older
   * agent's its one.
   */
  async attachments(records: readonly SessionRecord[]): Promise<ReadonlyMap<string, number>> {
    const bySocket = new Map<string, string[]>();
    for (const record of records) {
      const socketPath = this.socketOf(record);
      if (socketPath === null) continue;
      const ids = bySocket.get(socketPath);
      if (ids) ids.push(record.id);
      else bySocket.set(socketPath, [record.id]);
    }
    const counts = new Map<string, number>();
    await Promise.all(
      [...bySocket].map(async ([socketPath, ids]) => {
        const answer = await hostRequest<HostStatus | AgentStatus>(socketPath, 'GET', '/status', HOST_REQUEST_TIMEOUT_MS);
        if (answer?.status !== 200) return;
        const status = answer.body;
        for (const id of ids) {
          // A host started by an older version counts no attachments: those stay unknown.
          const count = 'host' in status ? status.attachments?.[id] : status.sessionId === id ? status.attachments : undefined;
          if (count !== undefined) counts.set(id, count);
        }
      }),
    );
    return counts;
  }

  /** Resolves once the terminal is gone; throws (after a SIGKILL) when it outlived the timeout. */
  async stop(record: SessionRecord): Promise<void> {
    if (!(await this.isRunning(record))) return;
    if ((await commandLine(record.pid!)).includes(record.id)) return this.stopAgent(record);
    const host = this.socketOf(record);
    // The host ends the program, gives the attachments the exit status, then answers.
    const answer = host === null ? null : await hostRequest(host, 'DELETE', `/terminals/${record.id}`, this.options.stopTimeoutMs);
    if (answer && (answer.status === 200 || answer.status === 404)) return;
    if (!(await isHostedProgram(record.pid!))) return;
    // Forced, so that the next attempt finds it gone; this one still reports the failure.
    signal(record.pid!, 'SIGKILL');
    throw new Error(`the terminal (pid ${record.pid}) did not stop within ${this.options.stopTimeoutMs} ms`);
  }

  /** A terminal that has an agent process of its own: SIGTERM, then SIGKILL after the timeout. */
  private async stopAgent(record: SessionRecord): Promise<void> {
    signal(record.pid!, 'SIGTERM');
    const deadline = Date.now() + this.options.stopTimeoutMs;
    while (Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, POLL_MS));
      if (!(await this.isRunning(record))) return;
    }
    signal(record.pid!, 'SIGKILL');
    throw new Error(`the agent (pid ${record.pid}) did not stop within ${this.options.stopTimeoutMs} ms of SIGTERM`);
  }

  onEnded(listener: (id: string, reason: string) => void): void {
    this.listeners.push(listener);
  }

  async close(): Promise<void> {
    this.closed = true;
    this.pool.close();
  }
}
