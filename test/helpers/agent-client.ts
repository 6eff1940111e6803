// A test client for the terminal protocol: connects to an agent (or through a gateway), keeps the
// output it received by offset, and lets tests wait for text, offsets, exit or close.
import { WebSocket, type PerMessageDeflateOptions } from 'ws';
import type { IncomingHttpHeaders } from 'node:http';
import { once } from 'node:events';
import {
  ACK_EVERY_BYTES,
  decodeAgentMessage,
  encodeAck,
  encodeAttach,
  encodeInput,
  encodeResize,
  type AgentMessage,
} from '../../core/src/protocol/messages.js';

export interface ConnectOptions {
  readonly url: string;
  readonly headers?: Record<string, string>;
  /** Sends the attach message with this offset right after the hello; null to send nothing. */
  readonly attachAt?: number | null;
  /** Don't read from the socket (a viewer that never reads). */
  readonly paused?: boolean;
  /** Acknowledge received output as the page does (default true). */
  readonly ack?: boolean;
  readonly socketPath?: string;
  /** Certificates to trust for wss:// (a test's own self-signed one). */
  readonly ca?: Buffer;
  /** Offer permessage-deflate (ws's offer, or these options); default: no offer. */
  readonly deflate?: boolean | PerMessageDeflateOptions;
}

export class TestClient {
  readonly messages: AgentMessage[] = [];
  /** Output bytes in arrival order. */
  private readonly chunks: Buffer[] = [];
  /** Offset the first received output byte had. */
  firstOffset: number | null = null;
  /** Offset one past the last output byte received. */
  received = 0;
  closeCode: number | null = null;
  closeReason = '';
  /** The headers of the 101 that opened the socket (what the agent answered, relayed). */
  upgradeHeaders: IncomingHttpHeaders = {};
  private waiters: Array<() => void> = [];
  private acked = 0;

  private constructor(
    readonly socket: WebSocket,
    private readonly acks: boolean,
  ) {
    socket.on('message', (data: Buffer) => {
      const message = decodeAgentMessage(data);
      if (!message) return;
      this.messages.push(message);
      if (message.type === 'output') {
        if (this.firstOffset === null) this.firstOffset = message.offset;
        this.chunks.push(Buffer.from(message.data));
        this.received = message.offset + message.data.byteLength;
        if (this.acks && this.received - this.acked >= ACK_EVERY_BYTES) {
          this.acked = this.received;
          socket.send(encodeAck(this.received));
        }
      }
      this.wake();
    });
    socket.on('close', (code, reason) => {
      this.closeCode = code;
      this.closeReason = reason.toString();
      this.wake();
    });
  }

  static async connect(options: ConnectOptions): Promise<TestClient> {
    const socket = new WebSocket(options.url, {
      headers: options.headers,
      perMessageDeflate: options.deflate ?? false,
      ...(options.socketPath ? { socketPath: options.socketPath } : {}),
      ...(options.ca ? { ca: options.ca } : {}),
    });
    const client = new TestClient(socket, options.ack ?? true);
    socket.once('upgrade', (response) => (client.upgradeHeaders = response.headers));
    await new Promise<void>((resolve, reject) => {
      socket.once('open', resolve);
      socket.once('error', reject);
      socket.once('unexpected-response', (_req, res) => {
        let body = '';
        res.on('data', (chunk: Buffer) => (body += chunk));
        res.on('end', () => reject(Object.assign(new Error(`HTTP ${res.statusCode}: ${body}`), { status: res.statusCode, body, headers: res.headers })));
      });
    });
    const attachAt = options.attachAt === undefined ? 0 : options.attachAt;
    await client.waitFor(() => client.hello !== undefined, 'hello');
    if (attachAt !== null) client.attach(attachAt);
    if (options.paused) client.pauseReading();
    return client;
  }

  get hello(): Extract<AgentMessage, { type: 'hello' }> | undefined {
    return this.messages.find((m): m is Extract<AgentMessage, { type: 'hello' }> => m.type === 'hello');
  }

  output(): Buffer {
    return Buffer.concat(this.chunks);
  }

  text(): string {
    return this.output().toString('utf8');
  }

  /** Stops reading from the TCP socket, as a client that stalls would. */
  pauseReading(): void {
    this.rawSocket().pause();
  }

  resumeReading(): void {
    this.rawSocket().resume();
  }

  private rawSocket(): { pause(): void; resume(): void } {
    return (this.socket as unknown as { _socket: { pause(): void; resume(): void } })._socket;
  }

  attach(offset: number): void {
    this.socket.send(encodeAttach(offset));
  }

  type(text: string | Uint8Array): void {
    this.socket.send(encodeInput(typeof text === 'string' ? Buffer.from(text) : text));
  }

  resize(cols: number, rows: number): void {
    this.socket.send(encodeResize(cols, rows));
  }

  find<T extends AgentMessage['type']>(type: T): Extract<AgentMessage, { type: T }> | undefined {
    return this.messages.find((m): m is Extract<AgentMessage, { type: T }> => m.type === type);
  }

  private wake(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const wake of waiters) wake();
  }

  /** Resolves when `predicate` holds; rejects with what was seen after `timeoutMs`. */
  async waitFor(predicate: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!predicate()) {
      const left = deadline - Date.now();
      if (left <= 0) {
        const tail = this.text().slice(-300);
        throw new Error(`timed out waiting for ${what}; close=${this.closeCode}; output tail: ${JSON.stringify(tail)}`);
      }
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, Math.min(left, 200));
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  waitForText(text: string, timeoutMs?: number): Promise<void> {
    return this.waitFor(() => this.text().includes(text), JSON.stringify(text), timeoutMs);
  }

  waitForClose(timeoutMs?: number): Promise<void> {
    return this.waitFor(() => this.closeCode !== null, 'close', timeoutMs);
  }

  async close(): Promise<void> {
    if (this.socket.readyState === WebSocket.CLOSED) return;
    this.socket.terminate();
    if (this.closeCode === null) await once(this.socket, 'close');
  }
}
