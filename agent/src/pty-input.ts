// What clients type, on its way into the PTY, with a bounded backlog. node-pty queues writes
// without limit, so a client pasting faster than the program reads (or while it reads nothing)
// would grow the agent's memory for as long as it sends. Here input waits in order while the
// PTY's buffer is full, and once `limit` bytes wait, more is refused — the session tells the
// client, which is better than pausing the client's socket: that would also hold back its acks,
// and with them the output the program may be blocked on.
import { writeSync } from 'node:fs';

/** How long to wait before writing again when the PTY's input buffer is full. */
const RETRY_MS = 2;

export class PtyInput {
  private readonly queue: Buffer[] = [];
  private queued = 0;
  private timer: NodeJS.Timeout | null = null;
  private closed = false;

  /**
   * @param fd the PTY's master file descriptor (non-blocking)
   * @param limit bytes that may wait for the PTY; a message is refused while this many wait
   */
  constructor(
    private readonly fd: number,
    private readonly limit: number,
  ) {}

  /** Bytes accepted but not yet taken by the PTY. */
  get backlog(): number {
    return this.queued;
  }

  /** Passes `data` on, or returns false (nothing of it taken) when the backlog is at its limit. */
  write(data: Uint8Array): boolean {
    if (this.closed || data.byteLength === 0) return true;
    if (this.queued >= this.limit) return false;
    // Keystrokes go straight in; only what the PTY cannot take now waits, in order.
    const written = this.queue.length === 0 ? this.writeNow(data) : 0;
    if (written < data.byteLength && !this.closed) {
      // A copy: the message's bytes belong to the WebSocket's buffer.
      this.queue.push(Buffer.from(data.subarray(written)));
      this.queued += data.byteLength - written;
      this.timer ??= setTimeout(() => this.flush(), RETRY_MS);
    }
    return true;
  }

  /** The program is gone: nothing more can be written. */
  close(): void {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.queue.length = 0;
    this.queued = 0;
  }

  /** Writes what the PTY takes now; 0 when its buffer is full. */
  private writeNow(data: Uint8Array): number {
    try {
      return writeSync(this.fd, data);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'EAGAIN' || code === 'EINTR') return 0;
      // EIO and the like: the program has exited; its exit is reported by the session.
      this.close();
      return 0;
    }
  }

  private flush(): void {
    this.timer = null;
    while (this.queue.length > 0 && !this.closed) {
      const head = this.queue[0]!;
      const written = this.writeNow(head);
      if (this.closed) return;
      this.queued -= written;
      if (written < head.byteLength) {
        this.queue[0] = head.subarray(written);
        break;
      }
      this.queue.shift();
    }
    if (this.queue.length > 0 && !this.closed) this.timer = setTimeout(() => this.flush(), RETRY_MS);
  }
}
