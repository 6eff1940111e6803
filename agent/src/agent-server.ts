// `cloudterm agent`: one PTY served over WebSocket on a TCP port or a unix socket, plus a small
// HTTP surface (status, health, metrics) for the gateway and the operator.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import type { CryptoKey } from 'jose';
import type { PtySession, PtySessionOptions, SessionStatus } from './pty-session.js';
import { createAgentMetrics, type AgentMetrics } from './metrics.js';
import { METRICS_CONTENT_TYPE } from '../../core/src/metrics/registry.js';
import type { ExitStatus } from './attachment.js';
import { answerClientError, sendJson } from '../../core/src/net/raw-http.js';
import { listen } from '../../core/src/net/listen.js';
import type { ListenAddress } from '../../core/src/net/listen-address.js';
import type { AGENT_LIMITS, AgentConfig } from './agent-config.js';
import { agentError, type AgentErrorCode } from './errors.js';
import { ServedTerminal, refuseUpgrade } from './served-terminal.js';
import { terminalSocketServer } from './socket-server.js';

type AgentLimits = { readonly [K in keyof typeof AGENT_LIMITS]: number };

/** The agent's configuration (agent-config.ts) with the key imported, plus limits. */
export interface AgentOptions
  extends Omit<AgentConfig, 'publicKeyPem'>,
    Pick<PtySessionOptions, 'attachTimeoutMs' | 'resumeWindowMs'>,
    AgentLimits {
  readonly publicKey: CryptoKey;
  readonly processMetrics: boolean;
  /** The recording failed while the session ran (it stops; the session goes on). */
  readonly onRecordingError?: (error: Error) => void;
}

/** What `GET /status` answers: the gateway and the operator read it (docs/protocol.md). */
export interface AgentStatus extends SessionStatus {
  readonly sessionId: string;
}

export interface RunningAgent {
  readonly session: PtySession;
  readonly metrics: AgentMetrics;
  /** The TCP port, or the unix socket path. */
  readonly address: ListenAddress;
  /** Resolves when the process exited and the agent stopped serving. */
  readonly done: Promise<ExitStatus>;
  /** SIGTERM: ends the process, gives attachments the exit status, stops. */
  stop(): Promise<ExitStatus>;
}

function refuseRequest(res: ServerResponse, code: AgentErrorCode, message?: string): void {
  const { status, body } = agentError(code, message);
  sendJson(res, status, body);
}

export async function startAgent(options: AgentOptions): Promise<RunningAgent> {
  const terminal = new ServedTerminal({
    sessionId: options.sessionId,
    publicKey: options.publicKey,
    command: options.command,
    args: options.args,
    cwd: options.cwd,
    env: options.env,
    cols: options.cols,
    rows: options.rows,
    ringBytes: options.ringBytes,
    attachTimeoutMs: options.attachTimeoutMs,
    resumeWindowMs: options.resumeWindowMs,
    recordPath: options.recordPath,
    maxAttachments: options.maxAttachments,
    drainTimeoutMs: options.drainTimeoutMs,
    onRecordingError: options.onRecordingError,
    onRefusedToken: (reason) => metrics.refusedTokens.inc({ reason }),
  });
  const { session } = terminal;
  const metrics = createAgentMetrics(session, options.processMetrics);
  const wss = terminalSocketServer(options.maxMessageBytes);

  const server: Server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET') return refuseRequest(res, 'method_not_allowed');
    if (path === '/healthz') return sendJson(res, 200, { ok: true });
    if (path === '/status') return sendJson(res, 200, { sessionId: options.sessionId, ...session.status() } satisfies AgentStatus);
    if (path === '/metrics') {
      res.writeHead(200, { 'content-type': METRICS_CONTENT_TYPE });
      res.end(metrics.registry.render());
      return;
    }
    refuseRequest(res, 'not_found', `no route ${path}`);
  });

  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    socket.on('error', () => socket.destroy());
    const path = (req.url ?? '/').split('?')[0];
    if (path !== '/attach') return refuseUpgrade(socket, 'not_found', 'the attach route is /attach');
    terminal.upgrade(wss, req, socket, head);
  });
  server.on('clientError', answerClientError);
  // Slowloris-style clients must not hold sockets forever.
  server.headersTimeout = options.headersTimeoutMs;
  server.requestTimeout = options.requestTimeoutMs;

  // The socket path is this session's alone: one left by an agent that died is replaced.
  const { address } = await listen(server, options.listen, { replaceSocketFile: true });

  const done = terminal.done.then(async (status) => {
    for (const client of wss.clients) client.terminate();
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    return status;
  });

  return {
    session,
    metrics,
    address,
    done,
    stop: async () => {
      session.terminate(options.stopGraceMs);
      return done;
    },
  };
}
