// One terminal's WebSocket to its session, kept alive across gateway restarts and network
// blips: it reconnects with backoff and resumes from `received`, the end of the output it has,
// so that no byte is shown twice and every lost byte is reported as a gap. It knows nothing of
// xterm: it hands bytes and events to a sink.
import { CloseCode, describeCloseCode } from '../../../core/src/protocol/close-codes.js';
import {
  ACK_EVERY_BYTES,
  ProtocolError,
  decodeAgentMessage,
  encodeAck,
  encodeAttach,
  encodeInput,
  MAX_INPUT_CHUNK_BYTES,
  encodeResize,
  type AgentMessage,
  type Role,
} from '../../../core/src/protocol/messages.js';

export type ConnectionState = 'connecting' | 'connected' | 'reconnecting' | 'ended' | 'closed';

export type EndReason =
  | { kind: 'exited'; code: number; signal: number }
  | { kind: 'ended' }
  | { kind: 'gone' }
  | { kind: 'unauthorized' }
  | { kind: 'failed'; message: string };

export interface TerminalSink {
  /** Output bytes in order, each exactly once. */
  output(data: Uint8Array): void;
  /** Bytes [from, to) will never come. */
  gap(from: number, to: number): void;
  hello(role: Role, cols: number, rows: number): void;
  resized(cols: number, rows: number): void;
  exit(code: number, signal: number): void;
  notice(code: number, message: string): void;
  state(state: ConnectionState, retryInMs: number | null): void;
  ended(reason: EndReason): void;
}

/** What the API says about the session, asked when a socket failed before the agent's hello. */
export type SessionStatus = 'alive' | 'gone' | 'unauthorized' | 'unknown';

export interface ConnectionOptions {
  url: string;
  sink: TerminalSink;
  checkSession: () => Promise<SessionStatus>;
  createSocket?: (url: string) => WebSocket;
  random?: () => number;
}

const FIRST_DELAY_MS = 250;
const MAX_DELAY_MS = 5_000;
/** A connection that lived this long was healthy: the next failure starts the backoff afresh. */
const STABLE_MS = 5_000;
/** No hello this long after opening: the socket is stuck (black-holed network); try again. */
const HELLO_TIMEOUT_MS = 10_000;

// Codes outside the protocol's table that mean "the connection broke, not the session":
// no status (a close without a code), abnormal (no close frame: network, refused upgrade,
// crashed proxy), server error, service restart, try again later, bad gateway.
const TRANSIENT_CODES = new Set([1005, 1006, 1011, 1012, 1013, 1014]);

const utf8 = new TextEncoder();

export class TerminalConnection {
  readonly #options: ConnectionOptions;
  #socket: WebSocket | null = null;
  #state: ConnectionState = 'connecting';
  #received = 0;
  /** The offset last acknowledged to the agent (end-to-end flow control, docs/protocol.md). */
  #acked = 0;
  #role: Role | null = null;
  #attempt = 0;
  #timer: ReturnType<typeof setTimeout> | null = null;
  #helloTimer: ReturnType<typeof setTimeout> | null = null;
  #helloAt = 0;
  #exited = false;
  /** The size this client wants (rw only) and the last size it sent, to send only changes. */
  #wantedSize: { cols: number; rows: number } | null = null;
  #sentSize: { cols: number; rows: number } | null = null;

  constructor(options: ConnectionOptions) {
    this.#options = options;
    window.addEventListener('online', this.#onOnline);
    this.#open();
  }

  /** Tells the agent what this page has, so it never overwrites output we may still resume. */
  #ackIfDue(): void {
    if (this.#received - this.#acked < ACK_EVERY_BYTES) return;
    this.#acked = this.#received;
    this.#socket?.send(encodeAck(this.#received));
  }

  get received(): number {
    return this.#received;
  }

  get state(): ConnectionState {
    return this.#state;
  }

  get socket(): WebSocket | null {
    return this.#socket;
  }

  get role(): Role | null {
    return this.#role;
  }

  /** Sends typed text. Refused (false) while disconnected or read-only: input is not queued, since keys typed blind into a shell are dangerous. */
  input(data: string | Uint8Array): boolean {
    if (!this.#canWrite()) return false;
    const bytes = typeof data === 'string' ? utf8.encode(data) : data;
    // A large paste goes as several messages, each well under the agent's maximum message size.
    for (let at = 0; at < bytes.byteLength; at += MAX_INPUT_CHUNK_BYTES) {
      this.#socket?.send(encodeInput(bytes.subarray(at, at + MAX_INPUT_CHUNK_BYTES)));
    }
    return true;
  }

  /** Asks for a terminal size; sent now if connected read-write, else on the next attach. */
  resize(cols: number, rows: number): void {
    this.#wantedSize = { cols, rows };
    this.#sendSize();
  }

  /** Leaves the session: no more reconnects. */
  close(): void {
    if (this.#state === 'closed') return;
    window.removeEventListener('online', this.#onOnline);
    this.#clearTimers();
    const socket = this.#detach();
    socket?.close(1000, 'closed by user');
    this.#setState('closed', null);
  }

  #canWrite(): boolean {
    return this.#state === 'connected' && this.#role === 'rw' && this.#socket?.readyState === WebSocket.OPEN;
  }

  #sendSize(): void {
    const wanted = this.#wantedSize;
    if (!wanted || !this.#canWrite()) return;
    if (this.#sentSize?.cols === wanted.cols && this.#sentSize.rows === wanted.rows) return;
    this.#socket?.send(encodeResize(wanted.cols, wanted.rows));
    this.#sentSize = wanted;
  }

  #open(): void {
    const create = this.#options.createSocket ?? ((url: string) => new WebSocket(url));
    const socket = create(this.#options.url);
    socket.binaryType = 'arraybuffer';
    this.#socket = socket;
    this.#helloAt = 0;
    // Handlers check that their socket is still the current one: a socket we gave up on may
    // still deliver events, and they must not touch the new connection's state.
    socket.onmessage = (event: MessageEvent) => {
      if (this.#socket !== socket || !(event.data instanceof ArrayBuffer)) return;
      this.#onMessage(new Uint8Array(event.data));
    };
    socket.onclose = (event: CloseEvent) => {
      if (this.#socket !== socket) return;
      this.#detach();
      this.#onClose(event.code, event.reason);
    };
    this.#helloTimer = setTimeout(() => {
      if (this.#socket !== socket) return;
      this.#detach()?.close();
      this.#onClose(1006, 'no hello in time');
    }, HELLO_TIMEOUT_MS);
  }

  #detach(): WebSocket | null {
    const socket = this.#socket;
    if (socket) {
      socket.onmessage = null;
      socket.onclose = null;
    }
    this.#socket = null;
    if (this.#helloTimer) clearTimeout(this.#helloTimer);
    this.#helloTimer = null;
    return socket;
  }

  #onMessage(bytes: Uint8Array): void {
    let message: AgentMessage | null;
    try {
      message = decodeAgentMessage(bytes);
    } catch (error) {
      if (!(error instanceof ProtocolError)) throw error;
      this.#detach()?.close(CloseCode.Malformed.code, CloseCode.Malformed.reason);
      this.#end({ kind: 'failed', message: `protocol error: ${error.message}` });
      return;
    }
    // Unknown types are skipped: a newer agent may send messages this page does not know.
    if (message) this.#handle(message);
  }

  #handle(message: AgentMessage): void {
    const sink = this.#options.sink;
    switch (message.type) {
      case 'hello':
        if (this.#helloTimer) clearTimeout(this.#helloTimer);
        this.#helloTimer = null;
        this.#helloAt = Date.now();
        this.#role = message.role;
        this.#socket?.send(encodeAttach(this.#received));
        // The agent's size is the terminal's real size until this client asks for another.
        this.#sentSize = { cols: message.cols, rows: message.rows };
        sink.hello(message.role, message.cols, message.rows);
        this.#setState('connected', null);
        this.#sendSize();
        return;
      case 'output': {
        const end = message.offset + message.data.byteLength;
        if (end <= this.#received) return;
        // Frames already in flight when we reconnected may overlap what we have: cut them.
        let data = message.data;
        if (message.offset < this.#received) data = data.subarray(this.#received - message.offset);
        else if (message.offset > this.#received) sink.gap(this.#received, message.offset);
        this.#received = end;
        sink.output(data);
        this.#ackIfDue();
        return;
      }
      case 'gap':
        if (message.to <= this.#received) return;
        sink.gap(Math.max(message.from, this.#received), message.to);
        this.#received = message.to;
        this.#ackIfDue();
        return;
      case 'resized':
        this.#sentSize = { cols: message.cols, rows: message.rows };
        sink.resized(message.cols, message.rows);
        return;
      case 'exit':
        this.#exited = true;
        sink.exit(message.code, message.signal);
        return;
      case 'notice':
        sink.notice(message.code, message.message);
        return;
    }
  }

  #onClose(code: number, reason: string): void {
    const hadHello = this.#helloAt > 0;
    if (this.#exited || code === CloseCode.SessionEnded.code) return this.#end({ kind: 'ended' });
    if (code === CloseCode.Unauthorized.code) return this.#end({ kind: 'unauthorized' });
    if (code === CloseCode.SessionGone.code) return this.#end({ kind: 'gone' });
    const known = describeCloseCode(code);
    const reconnect = known ? known.reconnect : TRANSIENT_CODES.has(code);
    if (!reconnect) return this.#end({ kind: 'failed', message: known?.reason ?? (reason || `connection closed (${code})`) });

    if (hadHello && Date.now() - this.#helloAt >= STABLE_MS) this.#attempt = 0;
    const ceiling = Math.min(MAX_DELAY_MS, FIRST_DELAY_MS * 2 ** this.#attempt);
    // Jitter spreads the reconnects of every page of a restarting gateway over time.
    const delay = Math.round(ceiling * (0.5 + (this.#options.random ?? Math.random)() * 0.5));
    this.#attempt += 1;
    this.#setState('reconnecting', delay);
    // A socket that failed before the hello was probably refused at the upgrade (session
    // deleted, logged out), which the browser hides behind 1006: the API tells which.
    this.#timer = setTimeout(() => void this.#retry(!hadHello), delay);
  }

  async #retry(check: boolean): Promise<void> {
    this.#timer = null;
    if (check) {
      const status = await this.#options.checkSession();
      // The user may have left (close) while the API was asked.
      if (this.#state !== 'reconnecting') return;
      if (status === 'gone') return this.#end({ kind: 'gone' });
      if (status === 'unauthorized') return this.#end({ kind: 'unauthorized' });
    }
    this.#setState('reconnecting', null);
    this.#open();
  }

  /** Back online: the wait is pointless, try now. */
  readonly #onOnline = (): void => {
    if (this.#state !== 'reconnecting' || !this.#timer) return;
    clearTimeout(this.#timer);
    this.#timer = null;
    void this.#retry(true);
  };

  #end(reason: EndReason): void {
    window.removeEventListener('online', this.#onOnline);
    this.#clearTimers();
    this.#setState('ended', null);
    this.#options.sink.ended(reason);
  }

  #clearTimers(): void {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = null;
    if (this.#helloTimer) clearTimeout(this.#helloTimer);
    this.#helloTimer = null;
  }

  #setState(state: ConnectionState, retryInMs: number | null): void {
    this.#state = state;
    this.#options.sink.state(state, retryInMs);
  }
}
