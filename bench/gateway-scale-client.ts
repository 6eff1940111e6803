// One client process of the scale benchmark (gateway-scale.ts starts several: each process may
// hold only ~20,000 descriptors). It holds its share of the attachments as browsers would: a
// raw WebSocket each through a gateway replica, the terminal protocol spoken over it (hello,
// attach at the last offset received, output checked for contiguity and, for streaming
// sessions, byte for byte), and when an attachment drops it reconnects to another replica with
// the page's jittered backoff (gateway/ui/src/terminal-connection.ts) and resumes from its
// offset. The parent drives it over IPC: open, status, echo, reset the failover marks, close.
import { connect, type Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import { AgentType, encodeAttach, encodeInput } from '../core/src/protocol/messages.js';
import { ClientHandshake, FrameReader, OPCODE_BINARY, OPCODE_CLOSE, clientFrame, closeCode } from './lib/ws-frames.js';
import { STREAM_PREFIX, patternByte } from './lib/stand-in-output.js';

// The page's reconnect policy (gateway/ui/src/terminal-connection.ts), kept the same here.
const FIRST_DELAY_MS = 250;
const MAX_DELAY_MS = 5_000;
const STABLE_MS = 5_000;
const HELLO_TIMEOUT_MS = 10_000;

export interface WorkerConfig {
  readonly ports: readonly number[];
  readonly cookie: string;
  readonly sources: readonly string[];
  /** [session id, replica index] of each attachment this process holds. */
  readonly attachments: ReadonlyArray<readonly [string, number]>;
  readonly window: number;
  /** A stand-in's socket, for the echo without the gateway. */
  readonly directSocket: string;
  /** Sessions with a real agent (a PTY): on the first attach each is told to print numbered lines. */
  readonly real: readonly string[];
}

/** What a real agent's shell is told to print: L0, L1, … one line every 50 ms, for ever. */
export const COUNTER_COMMAND = 'i=0; while :; do echo L$i; i=$((i+1)); sleep 0.05; done\r';

export type ParentMessage =
  | { readonly type: 'config'; readonly config: WorkerConfig }
  | { readonly type: 'open' }
  | { readonly type: 'status' }
  | { readonly type: 'echo'; readonly count: number }
  | { readonly type: 'mark' }
  | { readonly type: 'close' };

export interface WorkerStatus {
  readonly type: 'status';
  readonly total: number;
  /** Hello received and the socket still open. */
  readonly open: number;
  readonly errors: Record<string, number>;
  readonly closeCodes: Record<string, number>;
  /** Since the last mark: attachments dropped, and of those back; when the last came back (epoch ms). */
  readonly dropped: number;
  readonly back: number;
  readonly backMs: readonly number[];
  readonly lastBackAt: number;
  readonly failedAttempts: number;
  /** Bytes the output skipped (lost) or repeated (doubled), over all attachments; streaming bytes checked and wrong. */
  readonly lost: number;
  readonly doubled: number;
  readonly streamChecked: number;
  readonly streamWrong: number;
  /** Real agents' output: numbered lines received, and lines missing or twice (each session's run from its first line). */
  readonly realLines: number;
  readonly realMissing: number;
  readonly realTwice: number;
  readonly rssKiB: number;
}

let config: WorkerConfig;
let sourceNext = 0;
const errors: Record<string, number> = {};
const closeCodes: Record<string, number> = {};
let dropped = 0;
let back = 0;
let backMs: number[] = [];
let lastBackAt = 0;
let failedAttempts = 0;
let lost = 0;
let doubled = 0;
let streamChecked = 0;
let streamWrong = 0;

const count = (table: Record<string, number>, key: string) => {
  table[key] = (table[key] ?? 0) + 1;
};

/** One terminal's attachment, kept open (reconnecting) until told to close. */
class Attachment {
  socket: Socket | null = null;
  received = 0;
  open = false;
  helloAt = 0;
  /** When it dropped (performance.now()), 0 while it is not down. */
  downAt = 0;
  attempt = 0;
  closing = false;
  /** The first open's time, connect to hello (ms). */
  firstOpenMs = -1;
  echo: ((ok: boolean) => void) | null = null;
  /** A real agent's output as received (only those keep it: they are few). */
  readonly kept: Buffer[] | null;
  private told = false;
  private timer: NodeJS.Timeout | null = null;
  private onFirstOpen: (() => void) | null = null;

  constructor(
    readonly sessionId: string,
    public replica: number,
    /** null: through a replica; a path: straight to a stand-in (the echo baseline). */
    private readonly direct: string | null = null,
    real = false,
  ) {
    this.kept = real ? [] : null;
  }

  get streaming(): boolean {
    return this.sessionId.startsWith(STREAM_PREFIX);
  }

  /** Resolves at the first hello (the first open, with its retries). */
  start(): Promise<void> {
    return new Promise((resolve) => {
      this.onFirstOpen = resolve;
      this.connect();
    });
  }

  private connect(): void {
    const started = performance.now();
    const handshake = new ClientHandshake();
    const port = config.ports[this.replica]!;
    const socket = this.direct
      ? connect({ path: this.direct })
      : connect({ host: '127.0.0.1', port, localAddress: config.sources[sourceNext++ % config.sources.length] });
    this.socket = socket;
    socket.setNoDelay(true);
    let upgraded = false;
    const reader = new FrameReader();
    let closeFrame: number | null = null;
    let failure: string | null = null;
    const helloTimer = setTimeout(() => {
      failure = upgraded ? 'no hello in time' : 'handshake timeout';
      socket.destroy();
    }, HELLO_TIMEOUT_MS);
    socket.on('error', (error: NodeJS.ErrnoException) => {
      failure ??= error.code ?? error.message;
    });
    socket.once('connect', () => {
      const extra = this.direct
        ? `CloudTerm-Session: ${this.sessionId}\r\n`
        : `Origin: http://127.0.0.1:${port}\r\nCookie: ${config.cookie}\r\n`;
      socket.write(handshake.request(port, this.direct ? '/attach' : `/api/sessions/${this.sessionId}/attach`, extra));
    });
    socket.on('data', (chunk: Buffer) => {
      if (!upgraded) {
        const answer = handshake.push(chunk);
        if (!answer) return;
        if ('failure' in answer) {
          failure = answer.failure;
          socket.destroy();
          return;
        }
        upgraded = true;
        chunk = answer.rest;
      }
      for (const frame of reader.push(chunk)) {
        if (frame.opcode === OPCODE_CLOSE) closeFrame = closeCode(frame.payload);
        else if (frame.opcode === OPCODE_BINARY) this.onMessage(frame.payload, started, helloTimer);
      }
    });
    socket.on('close', () => {
      clearTimeout(helloTimer);
      if (this.socket === socket) this.socket = null;
      const hadHello = this.open;
      this.open = false;
      this.echo?.(false);
      if (this.closing) return;
      if (hadHello) {
        count(closeCodes, String(closeFrame ?? 1006));
        if (this.downAt === 0) {
          this.downAt = performance.now();
          dropped += 1;
        }
        if (performance.now() - this.helloAt >= STABLE_MS) this.attempt = 0;
      } else {
        failedAttempts += 1;
        count(errors, failure ?? (closeFrame ? `close ${closeFrame} before hello` : 'closed before hello'));
      }
      this.retry();
    });
  }

  private onMessage(payload: Buffer, started: number, helloTimer: NodeJS.Timeout): void {
    if (payload[0] === AgentType.Hello) {
      clearTimeout(helloTimer);
      this.open = true;
      this.helloAt = performance.now();
      this.socket!.write(clientFrame(encodeAttach(this.received)));
      if (this.kept && !this.told) {
        this.told = true;
        this.socket!.write(clientFrame(encodeInput(Buffer.from(COUNTER_COMMAND))));
      }
      if (this.firstOpenMs < 0) this.firstOpenMs = this.helloAt - started;
      if (this.downAt > 0) {
        back += 1;
        backMs.push(this.helloAt - this.downAt);
        lastBackAt = Date.now();
        this.downAt = 0;
      }
      this.onFirstOpen?.();
      this.onFirstOpen = null;
      return;
    }
    if (payload[0] !== AgentType.Output) return;
    const offset = Number(payload.readBigUInt64BE(1));
    const data = payload.subarray(9);
    if (offset > this.received) lost += offset - this.received;
    let from = 0;
    if (offset < this.received) {
      from = Math.min(data.length, this.received - offset);
      doubled += from;
    }
    if (this.streaming) {
      for (let i = from; i < data.length; i++) if (data[i] !== patternByte(offset + i)) streamWrong += 1;
      streamChecked += data.length - from;
    }
    if (this.kept && from < data.length) this.kept.push(data.subarray(from));
    this.received = Math.max(this.received, offset + data.length);
    this.echo?.(true);
  }

  private retry(): void {
    const ceiling = Math.min(MAX_DELAY_MS, FIRST_DELAY_MS * 2 ** this.attempt);
    const delay = Math.round(ceiling * (0.5 + Math.random() * 0.5));
    this.attempt += 1;
    // A Service sends a new connection to any replica: here one at random other than the last.
    if (!this.direct && config.ports.length > 1) {
      this.replica = (this.replica + 1 + Math.floor(Math.random() * (config.ports.length - 1))) % config.ports.length;
    }
    this.timer = setTimeout(() => {
      this.timer = null;
      this.connect();
    }, delay);
  }

  /** One keystroke's round trip: its echo back as output (ms), or null when the socket went. */
  async typeOne(): Promise<number | null> {
    if (!this.open || !this.socket) return null;
    const start = performance.now();
    const ok = await new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => resolve(false), 5_000);
      this.echo = (result) => {
        clearTimeout(timer);
        resolve(result);
      };
      this.socket!.write(clientFrame(encodeInput(Buffer.from('x'))));
    });
    this.echo = null;
    return ok ? performance.now() - start : null;
  }

  close(): void {
    this.closing = true;
    if (this.timer) clearTimeout(this.timer);
    // A reset: the gateway notices it at once (docs/benchmarks.md, the half-open splice); a unix
    // socket has none.
    if (this.direct) this.socket?.destroy();
    else this.socket?.resetAndDestroy();
  }
}

const attachments: Attachment[] = [];

/** The numbered lines of every real agent's output: each must follow the one before. */
function realLines(): { lines: number; missing: number; twice: number } {
  let lines = 0;
  let missing = 0;
  let twice = 0;
  for (const a of attachments) {
    if (!a.kept) continue;
    let last = -1;
    for (const match of Buffer.concat(a.kept).toString('latin1').matchAll(/^L(\d+)\r?$/gm)) {
      const n = Number(match[1]);
      lines += 1;
      if (last >= 0 && n <= last) twice += 1;
      else if (last >= 0 && n > last + 1) missing += n - last - 1;
      last = n;
    }
  }
  return { lines, missing, twice };
}

function status(): WorkerStatus {
  const real = realLines();
  return {
    type: 'status',
    total: attachments.length,
    open: attachments.reduce((n, a) => n + (a.open ? 1 : 0), 0),
    errors,
    closeCodes,
    dropped,
    back,
    backMs,
    lastBackAt,
    failedAttempts,
    lost,
    doubled,
    streamChecked,
    streamWrong,
    realLines: real.lines,
    realMissing: real.missing,
    realTwice: real.twice,
    rssKiB: Math.round(process.memoryUsage().rss / 1024),
  };
}

async function openAll(): Promise<{ type: 'opened'; firstOpenMs: number[]; seconds: number }> {
  const started = performance.now();
  const real = new Set(config.real);
  let next = 0;
  const worker = async () => {
    while (next < config.attachments.length) {
      const [sessionId, replica] = config.attachments[next++]!;
      const attachment = new Attachment(sessionId, replica, null, real.has(sessionId));
      attachments.push(attachment);
      await attachment.start();
    }
  };
  await Promise.all(Array.from({ length: config.window }, worker));
  return { type: 'opened', firstOpenMs: attachments.map((a) => a.firstOpenMs), seconds: (performance.now() - started) / 1000 };
}

/** Keystrokes on `n` idle attachments spread over all, one at a time, alternating with the same through no gateway. */
async function echo(n: number): Promise<{ type: 'echo'; through: number[]; direct: number[]; failed: number }> {
  const direct = new Attachment(`direct-${process.pid}`, 0, config.directSocket);
  await direct.start();
  const idle = attachments.filter((a) => !a.streaming && !a.kept);
  const step = Math.max(1, Math.floor(idle.length / n));
  const through: number[] = [];
  const straight: number[] = [];
  let failed = 0;
  for (let i = 0; i < n && i * step < idle.length; i++) {
    const a = await idle[i * step]!.typeOne();
    if (a === null) failed += 1;
    else through.push(a);
    const b = await direct.typeOne();
    if (b !== null) straight.push(b);
  }
  direct.close();
  return { type: 'echo', through, direct: straight, failed };
}

process.on('message', (message: ParentMessage) => {
  const reply = (value: unknown) => process.send!(value);
  switch (message.type) {
    case 'config':
      config = message.config;
      reply({ type: 'configured' });
      return;
    case 'open':
      void openAll().then(reply);
      return;
    case 'status':
      reply(status());
      return;
    case 'echo':
      void echo(message.count).then(reply);
      return;
    case 'mark':
      dropped = 0;
      back = 0;
      backMs = [];
      lastBackAt = 0;
      failedAttempts = 0;
      for (const key of Object.keys(errors)) delete errors[key];
      for (const key of Object.keys(closeCodes)) delete closeCodes[key];
      reply({ type: 'marked' });
      return;
    case 'close':
      for (const attachment of attachments) attachment.close();
      reply({ type: 'closed' });
      return;
  }
});
process.on('disconnect', () => process.exit(0));
