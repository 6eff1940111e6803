// Local mode: each terminal is a `cloudterm agent` process on a unix socket in the data
// directory. Agents are detached, so they outlive a gateway restart (like tmux): the restarted
// gateway finds them again through the session records.
import { spawn } from 'node:child_process';
import { mkdir, open, readFile } from 'node:fs/promises';
import { get } from 'node:http';
import { join } from 'node:path';
import type { SessionRecord } from '../store/types.js';
import { MAX_UNIX_SOCKET_PATH_BYTES } from '../../../core/src/net/listen-address.js';
import { ConfigError } from '../../../core/src/config/options.js';
import { SESSION_ID_CHARS } from './session-service.js';
import type { StartRequest, StartedTerminal, TerminalBackend } from './backend.js';
import { agentArgs, type AgentLaunch, type AgentStatus } from '../../../agent/src/index.js';
import { agentEnvironment } from './agent-environment.js';

export interface LocalBackendOptions {
  readonly dataDir: string;
  /** How to run this program: e.g. [node, main.js] or [node, --import, tsx, main.ts]. */
  readonly selfCommand: readonly string[];
  readonly attachPublicKeyFile: string;
  /** The command a terminal runs; null for the agent's default (the login shell). */
  readonly shell: readonly string[] | null;
  /** Where each terminal's agent records it (<session id>.cast; the directory exists); null: not recorded. */
  readonly recordDir: string | null;
  /** The gateway's environment: agents get only the part a login shell should (agentEnvironment). */
  readonly env: Readonly<Record<string, string | undefined>>;
  /** How long a new agent has to answer. */
  readonly startTimeoutMs: number;
  /** How long a stopped agent has to end its program and exit. */
  readonly stopTimeoutMs: number;
}

const SOCKET_POLL_MS = 20;

/** The agent's /status on this unix socket, or null while it does not answer. */
function agentStatus(socketPath: string): Promise<AgentStatus | null> {
  return new Promise((resolve) => {
    const request = get({ socketPath, path: '/status', timeout: 1_000 }, (response) => {
      let body = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => (body += chunk));
      response.on('end', () => {
        try {
          resolve(response.statusCode === 200 ? (JSON.parse(body) as AgentStatus) : null);
        } catch {
          resolve(null);
        }
      });
    });
    request.on('error', () => resolve(null));
    request.on('timeout', () => request.destroy());
  });
}

export class LocalBackend implements TerminalBackend {
  private readonly listeners: Array<(id: string) => void> = [];
  private readonly socketDir: string;
  private readonly logDir: string;
  private closed = false;

  constructor(private readonly options: LocalBackendOptions) {
    this.socketDir = join(options.dataDir, 'sockets');
    this.logDir = join(options.dataDir, 'logs');
    const socketPathBytes = Buffer.byteLength(this.socketPath('x'.repeat(SESSION_ID_CHARS)));
    if (socketPathBytes > MAX_UNIX_SOCKET_PATH_BYTES) {
      const allowed = Buffer.byteLength(options.dataDir) - (socketPathBytes - MAX_UNIX_SOCKET_PATH_BYTES);
      throw new ConfigError([
        `--data-dir ${options.dataDir} is too long for the terminals' unix sockets (${socketPathBytes} bytes each; at most ${MAX_UNIX_SOCKET_PATH_BYTES} work): choose one of at most ${allowed} bytes`,
      ]);
    }
  }

  get recording(): boolean {
    return this.options.recordDir !== null;
  }

  private socketPath(sessionId: string): string {
    return join(this.socketDir, `${sessionId}.sock`);
  }

  async start(request: StartRequest): Promise<StartedTerminal> {
    // Only the user may open the sockets: the directory is 0700.
    await mkdir(this.socketDir, { recursive: true, mode: 0o700 });
    await mkdir(this.logDir, { recursive: true, mode: 0o700 });
    const recording = this.options.recordDir ? join(this.options.recordDir, `${request.id}.cast`) : null;
    const socketPath = this.socketPath(request.id);
    const logFile = join(this.logDir, `${request.id}.log`);
    const log = await open(logFile, 'a', 0o600);
    const [command, ...prefix] = this.options.selfCommand;
    const launch: AgentLaunch = {
      sessionId: request.id,
      listen: { path: socketPath },
      publicKeyFile: this.options.attachPublicKeyFile,
      cols: request.cols,
      rows: request.rows,
      record: recording ?? undefined,
      command: this.options.shell,
    };
    const child = spawn(command!, [...prefix, 'agent', ...agentArgs(launch)], {
      detached: true,
      stdio: ['ignore', log.fd, log.fd],
      env: agentEnvironment(this.options.env),
    });
    await log.close();
    let exited = false;
    child.once('exit', () => {
      exited = true;
      if (!this.closed) for (const listener of this.listeners) listener(request.id);
    });
    child.unref();

    // Ready means answering, not merely a socket file: bind() makes the file before listen().
    const deadline = Date.now() + this.options.startTimeoutMs;
    // A shell that does not exist, or one that fails at once, is said now, not at the attach.
    const program = this.options.shell?.join(' ') ?? 'the login shell';
    while (Date.now() < deadline && !exited) {
      const status = await agentStatus(socketPath);
      if (status?.exit) throw new Error(`its program (${program}) ended as soon as it started, with exit code ${status.exit.code}`);
      if (status) return { endpoint: `unix:${socketPath}`, pid: child.pid ?? null };
      await new Promise((r) => setTimeout(r, SOCKET_POLL_MS));
    }
    if (exited) {
      // An agent that refused its configuration (its program gone, say) printed why to its log.
      const reasons = ConfigError.problemsPrintedIn(await readFile(logFile, 'utf8').catch(() => ''));
      if (reasons.length > 0) throw new Error(`it could not start: ${reasons.join('; ')}`);
      throw new Error(`it ended as soon as it started: check its program (${program}) and ${logFile}`);
    }
    child.kill('SIGKILL');
    throw new Error(`the agent did not start within the timeout (see ${logFile})`);
  }

  /** Whether the session's agent process is alive: its pid runs an agent for this session id. */
  async isRunning(record: SessionRecord): Promise<boolean> {
    if (record.pid === null) return false;
    // A pid may have been reused since (after a reboot); a dead agent's zombie has no command line.
    const cmdline = await readFile(`/proc/${record.pid}/cmdline`, 'utf8').catch(() => '');
    return cmdline.split('\0').includes(record.id);
  }

  /** Resolves once the agent is gone; throws (after a SIGKILL) when it outlived the timeout. */
  async stop(record: SessionRecord): Promise<void> {
    if (!(await this.isRunning(record))) return;
    // The agent ends its shell and closes its attachments with the exit status.
    this.signal(record.pid!, 'SIGTERM');
    const deadline = Date.now() + this.options.stopTimeoutMs;
    while (Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, SOCKET_POLL_MS));
      if (!(await this.isRunning(record))) return;
    }
    // Forced, so that the next attempt finds it gone; this one still reports the failure.
    this.signal(record.pid!, 'SIGKILL');
    throw new Error(`the agent (pid ${record.pid}) did not stop within ${this.options.stopTimeoutMs} ms of SIGTERM`);
  }

  private signal(pid: number, signal: NodeJS.Signals): void {
    try {
      process.kill(pid, signal);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ESRCH') throw error;
    }
  }

  onEnded(listener: (id: string) => void): void {
    this.listeners.push(listener);
  }

  async close(): Promise<void> {
    this.closed = true;
  }
}
