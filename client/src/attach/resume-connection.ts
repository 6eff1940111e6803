// One attachment to a session that outlives its sockets: on a dropped connection it reconnects
// with jittered backoff and resumes from `received`, the end of the output it has handed on, so
// that nothing is shown twice and every byte the agent no longer holds is reported as a gap. The
// page's terminal-connection.ts follows the same rules; this one is for Node, with a bearer token
// on the upgrade and the gateway's HTTP refusals readable.
import { WebSocket, type RawData } from 'ws';
import type { IncomingMessage } from 'node:http';
import { CloseCode, describeCloseCode } from '../../../core/src/protocol/close-codes.js';
import { UNCOMPRESSED, sendOptions } from '../../../core/src/protocol/compression.js';
import {
  ACK_EVERY_BYTES,
  MAX_INPUT_CHUNK_BYTES,
  ProtocolError,
  decodeAgentMessage,
  encodeAck,
  encodeAttach,
  encodeInput,
  encodeResize,
  type AgentMessage,
  type Role,
} from '../../../core/src/protocol/messages.js';
import { ClientError, loginAgain } from '../errors.js';
import type { GatewayApi } from '../gateway-api.js';
import { describeConnectError } from '../tls-trust.js';

export type AttachEnd = { readonly kind: 'exited'; readonly code: number; readonly signal: number } | { readonly kind: 'failed'; readonly error: ClientError };

export interface ConnectionEvents {
  hello(role: Role, cols: number, rows: number): void;
  /** Output bytes in order, each once; false asks the connection to stop reading until resumeOutput(). */
  output(data: Uint8Array): boolean;
  /** Bytes [from, to) will never come. */
  gap(from: number, to: number): void;
  notice(code: number, message: string): void;
  /** The connection broke; a new one is tried in `retryInMs`. */
  dropped(reason: string, retryInMs: number): void;
  /** A new connection took over at `offset`. */
  resumed(offset: number): void;
  ended(end: AttachEnd): void;
}

export interface ConnectionOptions {
  /** `ws(s)://…/api/sessions/ID/attach`. */
  readonly url: string;
  readonly token: string;
  readonly ca: Buffer | undefined;
  /** Reads the gateway's refusals of an upgrade as API errors. */
  readonly api: GatewayApi;
  /** Never send input or resizes, whatever role the agent grants. */
  readonly readOnly: boolean;
  readonly events: ConnectionEvents;
  readonly random?: () => number;
}

const FIRST_DELAY_MS = 250;
const MAX_DELAY_MS = 5_000;
/** A connection that lived this long was healthy: the next failure starts the backoff afresh. */
const STABLE_MS = 5_000;
const HELLO_TIMEOUT_MS = 10_000;
/** A ping this often; a connection silent for two of them is dead (a black-holed network). */
const PING_EVERY_MS = 10_000;
/** Statuses of a refused upgrade that pass: a full gateway, a starting or briefly unreachable agent. */
const TRANSIENT_STATUSES = new Set([409, 429, 502, 503, 504]);
/** Close codes outside the protocol's table that mean the connection broke, not the session. */
const TRANSIENT_CODES = new Set([1005, 1006, 1011, 1012, 1013, 1014]);

export class ResumeConnection {
  private socket: WebSocket | null = null;
  private received = 0;
  private acked = 0;
  private role: Role | null = null;
  private attempt = 0;
  private helloAt = 0;
  private everAttached = false;
  private exit: { code: number; signal: number } | null = null;
  private ended = false;
  private timers: NodeJS.Timeout[] = [];
  private lastHeard = 0;
  private wantedSize: { cols: number; rows: number } | null = null;
  private sentSize: { cols: number; rows: number } | null = null;

  constructor(private readonly options: ConnectionOptions) {}

  start(): void {
    this.open();
  }

  get writable(): boolean {
    return !this.options.readOnly && this.role === 'rw' && this.socket?.readyState === WebSocket.OPEN && this.helloAt > 0;
  }

  /** Sends typed bytes; false (nothing sent) while disconnected or read-only: keys typed blind are not queued. */
  input(data: Uint8Array): boolean {
    if (!this.writable) return false;
    for (let at = 0; at < data.byteLength; at += MAX_INPUT_CHUNK_BYTES) {
      const message = encodeInput(data.subarray(at, at + MAX_INPUT_CHUNK_BYTES));
      this.socket!.send(message, sendOptions(message.byteLength));
    }
    return true;
  }

  /** The size this terminal wants; sent now if attached read-write, else on the next attach. */
  resize(cols: number, rows: number): void {
    this.wantedSize = { cols, rows };
    this.sendSize();
  }

  pauseOutput(): void {
    this.socket?.pause();
  }

  resumeOutput(): void {
    this.socket?.resume();
  }

  /** Leaves the session running (detach): no more reconnects. */
  close(): void {
    this.ended = true;
    this.clearTimers();
    this.socket?.close(1000, 'detached');
    this.socket = null;
  }

  private sendSize(): void {
    const wanted = this.wantedSize;
    if (!wanted || !this.writable) return;
    if (this.sentSize?.cols === wanted.cols && this.sentSize.rows === wanted.rows) return;
    this.socket!.send(encodeResize(wanted.cols, wanted.rows), UNCOMPRESSED);
    this.sentSize = wanted;
  }

  private open(): void {
    const socket = new WebSocket(this.options.url, {
      headers: { authorization: `Bearer ${this.options.token}` },
      ca: this.options.ca,
      // ws's offer (permessage-deflate, any client window): the agent's output is what it inflates.
      perMessageDeflate: true,
      handshakeTimeout: HELLO_TIMEOUT_MS,
      followRedirects: false,
    });
    this.socket = socket;
    this.helloAt = 0;
    this.lastHeard = Date.now();
    // Every handler checks that its socket is still the current one: one given up on may still
    // deliver events, and they must not touch the next connection.
    socket.on('message', (data: RawData, isBinary: boolean) => {
      if (this.socket !== socket || !isBinary) return;
      this.lastHeard = Date.now();
      this.onMessage(socket, data as Buffer);
    });
    socket.on('pong', () => {
      this.lastHeard = Date.now();
    });
    socket.on('unexpected-response', (_request, response: IncomingMessage) => {
      if (this.socket !== socket) return;
      void this.onRefused(socket, response);
    });
    socket.on('error', (error: NodeJS.ErrnoException) => {
      if (this.socket !== socket) return;
      this.socket = null;
      // Before the first attach a failure is the user's to hear about (a wrong URL, a refused
      // certificate); once attached, a network that fails is waited out.
      const described = describeConnectError(error, this.options.api.target.url);
      if (!this.everAttached || (error.code && /CERT|SELF_SIGNED|ISSUER|ALTNAME/.test(error.code))) return this.end({ kind: 'failed', error: described });
      this.retry(error.code ?? error.message);
    });
    socket.on('close', (code: number, reason: Buffer) => {
      if (this.socket !== socket) return;
      this.socket = null;
      this.onClose(code, reason.toString());
    });
    const hello = setTimeout(() => {
      if (this.socket === socket && this.helloAt === 0) {
        this.socket = null;
        socket.terminate();
        this.retry('no hello in time');
      }
    }, HELLO_TIMEOUT_MS);
    const ping = setInterval(() => {
      if (this.socket !== socket || socket.readyState !== WebSocket.OPEN) return clearInterval(ping);
      if (Date.now() - this.lastHeard > 2 * PING_EVERY_MS) {
        clearInterval(ping);
        this.socket = null;
        socket.terminate();
        return this.retry('the connection went silent');
      }
      socket.ping();
    }, PING_EVERY_MS);
    this.timers.push(hello, ping);
  }

  private async onRefused(socket: WebSocket, response: IncomingMessage): Promise<void> {
    this.socket = null;
    const chunks: Buffer[] = [];
    try {
      for await (const chunk of response) chunks.push(chunk as Buffer);
    } catch {
      // A body cut short: the status alone decides.
    }
    socket.terminate();
    let body: unknown = null;
    try {
      body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
    } catch {
      body = null;
    }
    const status = response.statusCode ?? 0;
    if (TRANSIENT_STATUSES.has(status)) return this.retry(this.options.api.refusal(status, body).message);
    const refusal = this.options.api.refusal(status, body);
    this.end({ kind: 'failed', error: status === 404 ? new ClientError('gone', 'the session is gone (deleted, or its terminal ended)') : refusal });
  }

  private onMessage(socket: WebSocket, bytes: Buffer): void {
    let message: AgentMessage | null;
    try {
      message = decodeAgentMessage(bytes);
    } catch (error) {
      if (!(error instanceof ProtocolError)) throw error;
      this.socket = null;
      socket.close(CloseCode.Malformed.code, CloseCode.Malformed.reason);
      return this.end({ kind: 'failed', error: new ClientError('failed', `protocol error: ${error.message}`) });
    }
    if (message) this.handle(socket, message);
  }

  private handle(socket: WebSocket, message: AgentMessage): void {
    const events = this.options.events;
    switch (message.type) {
      case 'hello': {
        this.helloAt = Date.now();
        this.role = message.role;
        socket.send(encodeAttach(this.received), UNCOMPRESSED);
        this.sentSize = { cols: message.cols, rows: message.rows };
        if (this.everAttached) events.resumed(this.received);
        else events.hello(message.role, message.cols, message.rows);
        this.everAttached = true;
        this.sendSize();
        return;
      }
      case 'output': {
        const end = message.offset + message.data.byteLength;
        if (end <= this.received) return;
        let data = message.data;
        // Frames in flight when we reconnected may overlap what we have: cut them.
        if (message.offset < this.received) data = data.subarray(this.received - message.offset);
        else if (message.offset > this.received) events.gap(this.received, message.offset);
        this.received = end;
        if (!events.output(data)) socket.pause();
        this.ackIfDue(socket);
        return;
      }
      case 'gap':
        if (message.to <= this.received) return;
        events.gap(Math.max(message.from, this.received), message.to);
        this.received = message.to;
        this.ackIfDue(socket);
        return;
      case 'resized':
        this.sentSize = { cols: message.cols, rows: message.rows };
        return;
      case 'exit':
        this.exit = { code: message.code, signal: message.signal };
        return;
      case 'notice':
        events.notice(message.code, message.message);
        return;
    }
  }

  private ackIfDue(socket: WebSocket): void {
    if (this.received - this.acked < ACK_EVERY_BYTES) return;
    this.acked = this.received;
    socket.send(encodeAck(this.received), UNCOMPRESSED);
  }

  private onClose(code: number, reason: string): void {
    if (this.exit) return this.end({ kind: 'exited', ...this.exit });
    if (code === CloseCode.SessionEnded.code || code === CloseCode.AgentStopping.code || code === CloseCode.SessionGone.code) {
      return this.end({ kind: 'failed', error: new ClientError('gone', code === CloseCode.SessionGone.code ? 'the session was deleted or expired' : 'the session ended') });
    }
    if (code === CloseCode.Unauthorized.code) return this.end({ kind: 'failed', error: new ClientError('refused', loginAgain(this.options.api.target.url)) });
    const known = describeCloseCode(code);
    const reconnect = known ? known.reconnect : TRANSIENT_CODES.has(code);
    if (!reconnect) return this.end({ kind: 'failed', error: new ClientError('failed', `the connection was closed: ${known?.reason ?? (reason || `code ${code}`)}`) });
    this.retry(known?.reason ?? (reason || 'connection lost'));
  }

  private retry(why: string): void {
    this.clearTimers();
    if (this.ended) return;
    if (this.helloAt > 0 && Date.now() - this.helloAt >= STABLE_MS) this.attempt = 0;
    this.helloAt = 0;
    const ceiling = Math.min(MAX_DELAY_MS, FIRST_DELAY_MS * 2 ** this.attempt);
    // Jitter spreads the reconnects of every client of a restarting gateway over time.
    const delay = Math.round(ceiling * (0.5 + (this.options.random ?? Math.random)() * 0.5));
    this.attempt += 1;
    this.options.events.dropped(why, delay);
    this.timers.push(setTimeout(() => this.open(), delay));
  }

  private end(end: AttachEnd): void {
    if (this.ended) return;
    this.ended = true;
    this.clearTimers();
    this.options.events.ended(end);
  }

  private clearTimers(): void {
    for (const timer of this.timers) clearTimeout(timer);
    this.timers = [];
  }
}
