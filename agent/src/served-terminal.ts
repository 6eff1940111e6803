// One terminal as a server sees it: its PTY session, its recording, the verifier of its attach
// tokens (bound to its session id), and how it ends. The one-terminal agent (agent-server.ts) and
// the terminal host (terminal-host.ts) both serve terminals through this.
import type { IncomingMessage } from 'node:http';
import { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { once } from 'node:events';
import type { WebSocketServer } from 'ws';
import type { CryptoKey } from 'jose';
import { PtySession, type PtySessionOptions } from './pty-session.js';
import { AttachTokenError, AttachTokenVerifier } from '../../core/src/keys/attach-token.js';
import { AsciicastRecorder } from './recorder.js';
import type { ExitStatus } from './attachment.js';
import { CloseCode } from '../../core/src/protocol/close-codes.js';
import { endWithJsonError } from '../../core/src/net/raw-http.js';
import { agentError, type AgentErrorCode } from './errors.js';
import { declineUnacceptableOffer } from './socket-server.js';

export interface ServedTerminalOptions extends PtySessionOptions {
  readonly sessionId: string;
  readonly publicKey: CryptoKey;
  readonly recordPath: string | null;
  readonly maxAttachments: number;
  /** How long attachments get to receive the exit status before they are closed. */
  readonly drainTimeoutMs: number;
  /** The recording failed while the session ran (it stops; the session goes on). */
  readonly onRecordingError?: (error: Error) => void;
  /** An upgrade was refused for its token (counted by the agent's metrics). */
  readonly onRefusedToken?: (code: AttachTokenError['code']) => void;
}

/** Answers an upgrade request with a plain HTTP error, before any WebSocket exists. */
export function refuseUpgrade(socket: Duplex, code: AgentErrorCode, message?: string): void {
  const { status, body } = agentError(code, message);
  endWithJsonError(socket, status, body);
}

function bearerToken(req: IncomingMessage): string | undefined {
  const header = req.headers.authorization;
  if (!header) return undefined;
  const match = /^Bearer\s+(\S+)$/i.exec(header);
  return match?.[1];
}

export class ServedTerminal {
  readonly session: PtySession;
  /** Resolves once the program exited, attachments got the exit status (or the drain timed out) and the recording is closed. */
  readonly done: Promise<ExitStatus>;
  private readonly verifier: AttachTokenVerifier;

  /** Starts the program; throws when the recording cannot be opened (before any program runs). */
  constructor(private readonly options: ServedTerminalOptions) {
    const recorder = options.recordPath
      ? new AsciicastRecorder({ path: options.recordPath, cols: options.cols, rows: options.rows, command: options.command, onError: options.onRecordingError })
      : null;
    this.session = new PtySession(options);
    // Listened for at once: a program that cannot start exits while its server still binds.
    const exited = once(this.session, 'exit').then(([status]) => status as ExitStatus);
    if (recorder) {
      this.session.on('output', (chunk) => recorder.output(chunk));
      this.session.on('resize', (cols, rows) => recorder.resize(cols, rows));
    }
    this.verifier = new AttachTokenVerifier(options.publicKey, options.sessionId);
    this.done = exited.then(async (status) => {
      // Give attachments a moment to receive the remaining output and the exit status.
      const drained = once(this.session, 'drained');
      const timeout = new Promise((resolve) => setTimeout(resolve, options.drainTimeoutMs).unref());
      if (this.session.attachmentCount > 0) await Promise.race([drained, timeout]);
      this.session.closeAll(CloseCode.SessionEnded.code, CloseCode.SessionEnded.reason);
      await recorder?.close();
      return status;
    });
  }

  get sessionId(): string {
    return this.options.sessionId;
  }

  /** Checks the request's attach token for this terminal and hands the socket to the session. */
  upgrade(wss: WebSocketServer, req: IncomingMessage, socket: Duplex, head: Buffer): void {
    if (this.session.exited) return refuseUpgrade(socket, 'session_ended');
    if (this.session.attachmentCount >= this.options.maxAttachments) {
      return refuseUpgrade(socket, 'too_many_attachments', `at most ${this.options.maxAttachments} attachments`);
    }
    this.verifier.verify(bearerToken(req)).then(
      (claims) => {
        if (socket.destroyed) return;
        declineUnacceptableOffer(req);
        wss.handleUpgrade(req, socket, head, (ws) => this.session.attach(ws, claims.role, claims.user, socket instanceof Socket ? socket : null));
      },
      (error: unknown) => {
        const code = error instanceof AttachTokenError ? error.code : 'token_invalid';
        this.options.onRefusedToken?.(code);
        refuseUpgrade(socket, code, error instanceof Error ? error.message : undefined);
      },
    );
  }
}
