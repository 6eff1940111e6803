// `cloudterm agent-host`: many terminals in one process, for local mode, where a Node process per
// terminal costs ~18 MB and a tenth of a second to start. Each terminal is what one agent serves
// (served-terminal.ts: its own PTY, ring, offsets, flow control, recording, tokens bound to its
// session id); they share one unix socket. Attach: `GET /attach` with `CloudTerm-Session: <id>`.
// Control (the pool in the gateway): PUT/GET/DELETE /terminals/<id>, GET /events (docs/protocol.md).
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { join } from 'node:path';
import type { CryptoKey } from 'jose';
import { ServedTerminal, refuseUpgrade } from './served-terminal.js';
import { terminalSocketServer } from './socket-server.js';
import { createAgentMetrics, type SessionCounters } from './metrics.js';
import { METRICS_CONTENT_TYPE } from '../../core/src/metrics/registry.js';
import { answerClientError, sendJson } from '../../core/src/net/raw-http.js';
import { listen } from '../../core/src/net/listen.js';
import { MAX_COLS, MAX_ROWS } from '../../core/src/protocol/messages.js';
import type { ExitStatus } from './attachment.js';
import type { AGENT_LIMITS } from './agent-config.js';
import { SESSION_HEADER, type HostConfig } from './host-config.js';
import type { AgentStatus } from './agent-server.js';
import { agentError, type AgentErrorCode } from './errors.js';

const SESSION_ID = /^[A-Za-z0-9_-]{1,64}$/;
const TERMINAL_PATH = /^\/terminals\/([^/]+)$/;
const MAX_BODY_BYTES = 4096;
/** With exitWhenIdle: how long a host with no terminal waits for a new one before it exits. */
export const IDLE_LINGER_MS = 1_000;

/** What `GET /status` of a host answers. */
export interface HostStatus {
  readonly host: true;
  readonly pid: number;
  readonly maxTerminals: number;
  /** The session ids of the terminals it holds (ending ones included until they are gone). */
  readonly terminals: readonly string[];
  /**
   * Clients attached to each terminal now, through whichever gateway replica: the host holds
   * their sockets, so it is the one place that knows them all (what the sessions API reports).
   */
  readonly attachments: Readonly<Record<string, number>>;
}

/** One line of `GET /events` (newline-delimited JSON): a terminal that is gone. */
export interface HostEvent {
  readonly ended: string;
  readonly exit: ExitStatus;
}

export interface HostOptions extends Omit<HostConfig, 'publicKeyPem'>, Readonly<Record<keyof typeof AGENT_LIMITS, number>> {
  readonly publicKey: CryptoKey;
  readonly processMetrics: boolean;
  readonly onRecordingError?: (sessionId: string, error: Error) => void;
}

export interface RunningHost {
  readonly socketPath: string;
  readonly terminals: ReadonlyMap<string, ServedTerminal>;
  /** Resolves once the host stopped serving (stopped, or idle with exitWhenIdle). */
  readonly done: Promise<void>;
  /** SIGTERM: ends every terminal (as `cloudterm agent` ends its one), then stops serving. */
  stop(): Promise<void>;
}

function refuse(res: ServerResponse, code: AgentErrorCode, message?: string): void {
  const { status, body } = agentError(code, message);
  sendJson(res, status, body);
}

function readBody(req: IncomingMessage): Promise<string | null> {
  return new Promise((resolve) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (chunk: string) => {
      body += chunk;
      if (body.length > MAX_BODY_BYTES) {
        resolve(null);
        req.destroy();
      }
    });
    req.on('end', () => resolve(body));
    req.on('error', () => resolve(null));
  });
}

/** The terminal's size from a PUT body, or what is wrong with it. */
function sizeOf(body: string | null): { cols: number; rows: number } | string {
  if (body === null) return `the body is over ${MAX_BODY_BYTES} bytes`;
  let value: unknown;
  try {
    value = body === '' ? {} : JSON.parse(body);
  } catch {
    return 'the body is not JSON';
  }
  const { cols = 80, rows = 24 } = (value ?? {}) as { cols?: unknown; rows?: unknown };
  const fits = (n: unknown, max: number) => Number.isInteger(n) && (n as number) >= 1 && (n as number) <= max;
  if (!fits(cols, MAX_COLS) || !fits(rows, MAX_ROWS)) return `cols and rows are integers from 1 to ${MAX_COLS} and ${MAX_ROWS}`;
  return { cols: cols as number, rows: rows as number };
}

export async function startTerminalHost(options: HostOptions): Promise<RunningHost> {
  const terminals = new Map<string, ServedTerminal>();
  const watchers = new Set<ServerResponse>();
  let stopping = false;
  let idleTimer: NodeJS.Timeout | null = null;
  // Counters of terminals that ended carry on in the totals.
  const ended = { inputBytes: 0, outputBytes: 0, replays: 0 };
  const sum = (key: keyof typeof ended) => {
    let total = ended[key];
    for (const terminal of terminals.values()) total += terminal.session[key];
    return total;
  };
  const counters: SessionCounters = {
    get inputBytes() { return sum('inputBytes'); },
    get outputBytes() { return sum('outputBytes'); },
    get replays() { return sum('replays'); },
    get attachmentCount() {
      let total = 0;
      for (const terminal of terminals.values()) total += terminal.session.attachmentCount;
      return total;
    },
  };
  const metrics = createAgentMetrics(counters, options.processMetrics);
  metrics.registry.derived('cloudterm_agent_terminals', 'Terminals this host holds', 'gauge', () => terminals.size);
  const wss = terminalSocketServer(options.maxMessageBytes);

  const open = (sessionId: string, size: { cols: number; rows: number }): ServedTerminal => {
    const terminal = new ServedTerminal({
      sessionId,
      publicKey: options.publicKey,
      command: options.command,
      args: options.args,
      cwd: options.cwd,
      env: options.env,
      ...size,
      ringBytes: options.ringBytes,
      attachTimeoutMs: options.attachTimeoutMs,
      resumeWindowMs: options.resumeWindowMs,
      recordPath: options.recordDir ? join(options.recordDir, `${sessionId}.cast`) : null,
      maxAttachments: options.maxAttachments,
      drainTimeoutMs: options.drainTimeoutMs,
      onRecordingError: (error) => options.onRecordingError?.(sessionId, error),
      onRefusedToken: (reason) => metrics.refusedTokens.inc({ reason }),
    });
    terminals.set(sessionId, terminal);
    void terminal.done.then((exit) => {
      for (const key of Object.keys(ended) as (keyof typeof ended)[]) ended[key] += terminal.session[key];
      terminals.delete(sessionId);
      const line = `${JSON.stringify({ ended: sessionId, exit } satisfies HostEvent)}\n`;
      for (const watcher of watchers) watcher.write(line);
      if (options.exitWhenIdle && terminals.size === 0 && !stopping) {
        idleTimer = setTimeout(() => void stop(), IDLE_LINGER_MS);
      }
    });
    return terminal;
  };

  const statusOf = (terminal: ServedTerminal): AgentStatus => ({ sessionId: terminal.sessionId, ...terminal.session.status() });

  const onTerminalRequest = async (req: IncomingMessage, res: ServerResponse, sessionId: string): Promise<void> => {
    if (!SESSION_ID.test(sessionId)) return refuse(res, 'bad_session_id');
    const terminal = terminals.get(sessionId);
    if (req.method === 'GET') return terminal ? sendJson(res, 200, statusOf(terminal)) : refuse(res, 'session_ended');
    if (req.method === 'DELETE') {
      if (!terminal) return refuse(res, 'session_ended');
      terminal.session.terminate(options.stopGraceMs);
      const exit = await terminal.done;
      return sendJson(res, 200, { sessionId, exit });
    }
    if (req.method !== 'PUT') return refuse(res, 'method_not_allowed', 'GET, PUT or DELETE');
    const size = sizeOf(await readBody(req));
    if (typeof size === 'string') return refuse(res, 'bad_request', size);
    if (stopping) return refuse(res, 'host_stopping');
    if (terminal) return refuse(res, 'terminal_exists');
    if (terminals.size >= options.maxTerminals) return refuse(res, 'too_many_terminals', `at most ${options.maxTerminals} terminals`);
    let opened: ServedTerminal;
    if (idleTimer) clearTimeout(idleTimer);
    idleTimer = null;
    try {
      opened = open(sessionId, size);
    } catch (error) {
      return refuse(res, 'terminal_failed', `the terminal could not start: ${(error as Error).message}`);
    }
    sendJson(res, 201, statusOf(opened));
  };

  const server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0]!;
    const terminalPath = TERMINAL_PATH.exec(path);
    if (terminalPath) {
      void onTerminalRequest(req, res, decodeURIComponent(terminalPath[1]!)).catch(() => refuse(res, 'terminal_failed'));
      return;
    }
    if (req.method !== 'GET') return refuse(res, 'method_not_allowed');
    if (path === '/healthz') return sendJson(res, 200, { ok: true });
    if (path === '/status') {
      const attachments: Record<string, number> = {};
      for (const [id, terminal] of terminals) attachments[id] = terminal.session.attachmentCount;
      return sendJson(res, 200, { host: true, pid: process.pid, maxTerminals: options.maxTerminals, terminals: [...terminals.keys()], attachments } satisfies HostStatus);
    }
    if (path === '/metrics') {
      res.writeHead(200, { 'content-type': METRICS_CONTENT_TYPE });
      res.end(metrics.registry.render());
      return;
    }
    if (path === '/events') {
      // Held open while the host runs: its end, without a stop, is the host's crash.
      res.writeHead(200, { 'content-type': 'application/x-ndjson' });
      res.flushHeaders();
      watchers.add(res);
      res.on('close', () => watchers.delete(res));
      return;
    }
    refuse(res, 'not_found', `no route ${path}`);
  });

  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    socket.on('error', () => socket.destroy());
    const path = (req.url ?? '/').split('?')[0];
    if (path !== '/attach') return refuseUpgrade(socket, 'not_found', 'the attach route is /attach');
    const sessionId = req.headers[SESSION_HEADER];
    if (typeof sessionId !== 'string' || !SESSION_ID.test(sessionId)) {
      return refuseUpgrade(socket, 'session_header_missing');
    }
    const terminal = terminals.get(sessionId);
    if (!terminal) return refuseUpgrade(socket, 'session_ended', `no terminal ${sessionId} here: it has ended`);
    terminal.upgrade(wss, req, socket, head);
  });
  server.on('clientError', answerClientError);
  server.headersTimeout = options.headersTimeoutMs;
  server.requestTimeout = options.requestTimeoutMs;
  // The socket path is this host's alone (named by its place in the pool): one left by a host
  // that died is replaced.
  await listen(server, { path: options.socketPath }, { replaceSocketFile: true });

  let stopped: Promise<void> | null = null;
  let markDone: () => void = () => undefined;
  const done = new Promise<void>((resolve) => (markDone = resolve));
  const stop = (): Promise<void> => {
    stopped ??= (async () => {
      stopping = true;
      if (idleTimer) clearTimeout(idleTimer);
      const all = [...terminals.values()];
      for (const terminal of all) terminal.session.terminate(options.stopGraceMs);
      await Promise.all(all.map((terminal) => terminal.done));
      for (const watcher of watchers) watcher.end();
      for (const client of wss.clients) client.terminate();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      markDone();
    })();
    return stopped;
  };
  return { socketPath: options.socketPath, terminals, done, stop };
}
