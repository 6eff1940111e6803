// `cloudterm agent`: one PTY served over WebSocket on a TCP port or a unix socket, plus a small
// HTTP surface (status, health, metrics) for the gateway and the operator.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { once } from 'node:events';
import { WebSocketServer } from 'ws';
import type { CryptoKey } from 'jose';
import { PtySession, type PtySessionOptions, type SessionStatus } from './pty-session.js';
import { AttachTokenError, AttachTokenVerifier } from '../../core/src/keys/attach-token.js';
import { createAgentMetrics, type AgentMetrics } from './metrics.js';
import { METRICS_CONTENT_TYPE } from '../../core/src/metrics/registry.js';
import { AsciicastRecorder } from './recorder.js';
import type { ExitStatus } from './attachment.js';
import { CloseCode } from '../../core/src/protocol/close-codes.js';
import { answerClientError, endWithJsonError, sendJson } from '../../core/src/net/raw-http.js';
import { listen } from '../../core/src/net/listen.js';
import type { ListenAddress } from '../../core/src/net/listen-address.js';
import type { AGENT_LIMITS, AgentConfig } from './agent-config.js';
import { agentError, type AgentErrorCode } from './errors.js';

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

/** Answers an upgrade request with a plain HTTP error, before any WebSocket exists. */
function refuseUpgrade(socket: Duplex, code: AgentErrorCode, message?: string): void {
  const { status, body } = agentError(code, message);
  endWithJsonError(socket, status, body);
}

function refuseRequest(res: ServerResponse, code: AgentErrorCode, message?: string): void {
  const { status, body } = agentError(code, message);
  sendJson(res, status, body);
}

function bearerToken(req: IncomingMessage): string | undefined {
  const header = req.headers.authorization;
  if (!header) return undefined;
  const match = /^Bearer\s+(\S+)$/i.exec(header);
  return match?.[1];
}

export async function startAgent(options: AgentOptions): Promise<RunningAgent> {
  // Before the program starts: a recording that cannot be written stops the start.
  const recorder = options.recordPath
    ? new AsciicastRecorder({ path: options.recordPath, cols: options.cols, rows: options.rows, command: options.command, onError: options.onRecordingError })
    : null;
  const session = new PtySession({
    command: options.command,
    args: options.args,
    cwd: options.cwd,
    env: options.env,
    cols: options.cols,
    rows: options.rows,
    ringBytes: options.ringBytes,
    attachTimeoutMs: options.attachTimeoutMs,
    resumeWindowMs: options.resumeWindowMs,
  });
  // Listened for before anything is awaited: a program that cannot start (a command that does
  // not exist) exits while the server is still binding, and its exit must not be missed.
  const exited = once(session, 'exit').then(([status]) => status as ExitStatus);
  const metrics = createAgentMetrics(session, options.processMetrics);
  if (recorder) {
    session.on('output', (chunk) => recorder.output(chunk));
    session.on('resize', (cols, rows) => recorder.resize(cols, rows));
  }

  const verifier = new AttachTokenVerifier(options.publicKey, options.sessionId);
  const wss = new WebSocketServer({ noServer: true, maxPayload: options.maxMessageBytes, perMessageDeflate: false });

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
    if (session.exited) return refuseUpgrade(socket, 'session_ended');
    if (session.attachmentCount >= options.maxAttachments) {
      return refuseUpgrade(socket, 'too_many_attachments', `at most ${options.maxAttachments} attachments`);
    }
    verifier.verify(bearerToken(req)).then(
      (claims) => {
        if (socket.destroyed) return;
        wss.handleUpgrade(req, socket, head, (ws) => session.attach(ws, claims.role, claims.user, socket instanceof Socket ? socket : null));
      },
      (error: unknown) => {
        const code = error instanceof AttachTokenError ? error.code : 'token_invalid';
        metrics.refusedTokens.inc({ reason: code });
        refuseUpgrade(socket, code, error instanceof Error ? error.message : undefined);
      },
    );
  });
  server.on('clientError', answerClientError);
  // Slowloris-style clients must not hold sockets forever.
  server.headersTimeout = options.headersTimeoutMs;
  server.requestTimeout = options.requestTimeoutMs;

  // The socket path is this session's alone: one left by an agent that died is replaced.
  const { address } = await listen(server, options.listen, { replaceSocketFile: true });

  const done = exited.then(async (status) => {
    // Give attachments a moment to receive the remaining output and the exit status.
    const drained = once(session, 'drained');
    const timeout = new Promise((resolve) => setTimeout(resolve, options.drainTimeoutMs).unref());
    if (session.attachmentCount > 0) await Promise.race([drained, timeout]);
    session.closeAll(CloseCode.SessionEnded.code, CloseCode.SessionEnded.reason);
    for (const client of wss.clients) client.terminate();
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    await recorder?.close();
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
