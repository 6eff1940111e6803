// One client attached to a PTY session: a cursor into the session's ring buffer, plus the bytes
// sent but not yet flushed to the socket. The cursor design is what lets several viewers share a
// PTY at their own pace: a slow one lags (and is told exactly what it lost once it falls out of the
// ring) without slowing anyone else.
import type { Socket } from 'node:net';
import type { WebSocket } from 'ws';
import type { RingBuffer } from './ring-buffer.js';
import type { FramePool } from './frame-pool.js';
import {
  OUTPUT_HEADER_BYTES,
  encodeExit,
  encodeGap,
  encodeHello,
  writeOutputHeader,
  type Role,
} from '../../core/src/protocol/messages.js';
import { CloseCode } from '../../core/src/protocol/close-codes.js';
import { sendOptions } from '../../core/src/protocol/compression.js';

/** Bytes sent to a socket but not yet handed to the kernel, above which we stop sending. */
export const IN_FLIGHT_LIMIT = 256 * 1024;
/** Largest output frame payload; keeps latency fair between attachments. */
export const MAX_FRAME_PAYLOAD = 64 * 1024;

export interface ExitStatus {
  readonly code: number;
  readonly signal: number;
}

export class Attachment {
  /** Offset of the next byte this client needs; null until it sent its attach message. */
  cursor: number | null = null;
  /**
   * What the client says it has received (ack messages); null for clients that never ack, whose
   * position is then taken to be the cursor. Bytes between acked and cursor may be sitting in
   * socket buffers along the way (the gateway's, the kernel's) and be lost with a connection.
   */
  acked: number | null = null;
  /** While set, the PTY reader writes this client's output frames itself (output-lanes.ts). */
  laneId: number | null = null;
  private inFlight = 0;
  private closed = false;

  constructor(
    readonly socket: WebSocket,
    readonly role: Role,
    readonly user: string,
    private readonly frames: FramePool,
    private readonly onProgress: () => void,
    /** Everything sent has been handed to the kernel (see idle). */
    private readonly onIdle: () => void,
    /** The connection under the WebSocket, when it is a socket of its own (TCP or unix). */
    readonly connection: Socket | null,
  ) {}

  get attached(): boolean {
    return this.cursor !== null && !this.closed;
  }

  get canSendNow(): boolean {
    return this.inFlight < IN_FLIGHT_LIMIT;
  }

  /** Everything sent is with the kernel: bytes written to the socket now come after all of it. */
  get idle(): boolean {
    return this.inFlight === 0 && !this.closed && this.connection !== null && this.connection.writableLength === 0;
  }

  /** The offset up to which this client surely has the output. */
  get position(): number {
    return this.acked ?? this.cursor ?? 0;
  }

  /** Records an ack; acks never go back, nor past what was sent. */
  ack(offset: number): void {
    if (this.cursor === null) return;
    this.acked = Math.min(Math.max(this.acked ?? 0, offset), this.cursor);
  }

  sendHello(cols: number, rows: number, ring: RingBuffer): void {
    this.send(encodeHello({ role: this.role, cols, rows, offset: ring.end, oldest: ring.oldest }));
  }

  /** Sends a frame already built for every client that was at `from`, e.g. fresh PTY output. */
  sendShared(frame: Uint8Array, to: number, release: () => void): void {
    this.send(frame, release);
    this.cursor = to;
  }

  /**
   * Sends what the ring holds past the cursor, as far as the socket takes it, and the exit
   * status once everything before it was sent.
   */
  pump(ring: RingBuffer, exit: ExitStatus | null): void {
    // While the socket is full nothing is queued, not even a gap notice: the loss is reported
    // once, whole, when the client reads again.
    if (this.cursor === null || this.closed || !this.canSendNow) return;
    if (this.cursor < ring.oldest) {
      // Fell out of the ring: say exactly which bytes are gone, then continue from what is held.
      this.send(encodeGap(this.cursor, ring.oldest));
      this.cursor = ring.oldest;
    }
    while (this.cursor < ring.end && this.canSendNow) {
      const chunk = ring.read(this.cursor, MAX_FRAME_PAYLOAD);
      const { frame, release } = this.frames.take(OUTPUT_HEADER_BYTES + chunk.byteLength, 1);
      writeOutputHeader(frame, this.cursor);
      chunk.copy(frame, OUTPUT_HEADER_BYTES);
      this.cursor += chunk.byteLength;
      this.send(frame, release);
    }
    if (exit && this.cursor === ring.end) {
      this.send(encodeExit(exit.code, exit.signal));
      this.close(CloseCode.SessionEnded.code, CloseCode.SessionEnded.reason);
    }
  }

  /** Sends one frame; `release` runs once the socket no longer needs it (pooled frames). */
  send(frame: Uint8Array, release?: () => void): void {
    if (this.closed) {
      release?.();
      return;
    }
    this.inFlight += frame.byteLength;
    this.socket.send(frame, sendOptions(frame.byteLength), () => {
      release?.();
      this.settled(frame.byteLength);
    });
  }

  /** Writes bytes that are framed already (the rest of a frame the PTY reader began) to the connection. */
  writeRaw(bytes: Buffer): void {
    if (this.closed || this.connection === null) return;
    this.inFlight += bytes.byteLength;
    this.connection.write(bytes, () => this.settled(bytes.byteLength));
  }

  private settled(bytes: number): void {
    this.inFlight -= bytes;
    // Resume pumping when the socket buffer drained below the limit again.
    if (this.inFlight < IN_FLIGHT_LIMIT && this.inFlight + bytes >= IN_FLIGHT_LIMIT) this.onProgress();
    if (this.idle) this.onIdle();
  }

  close(code: number, reason: string): void {
    if (this.closed) return;
    this.closed = true;
    this.socket.close(code, reason);
  }

  markClosed(): void {
    this.closed = true;
  }
}
