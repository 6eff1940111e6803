/**
 * The recent output of a session, addressed by absolute byte offset since the session began.
 * Holds the last `capacity` bytes; older bytes are gone, and `oldest` says where what is held
 * begins, so a reader can tell exactly how much it missed.
 */
export class RingBuffer {
  readonly capacity: number;
  private readonly bytes: Buffer;
  /** Offset one past the last byte written: the total output so far. */
  private endOffset = 0;

  constructor(capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1) {
      throw new TypeError(`ring buffer capacity must be a positive integer, got ${capacity}`);
    }
    this.capacity = capacity;
    this.bytes = Buffer.allocUnsafe(capacity);
  }

  /** Offset one past the newest byte. */
  get end(): number {
    return this.endOffset;
  }

  /** Offset of the oldest byte still held. */
  get oldest(): number {
    return Math.max(0, this.endOffset - this.capacity);
  }

  write(chunk: Uint8Array): void {
    let data = chunk;
    if (data.byteLength >= this.capacity) {
      this.endOffset += data.byteLength - this.capacity;
      data = data.subarray(data.byteLength - this.capacity);
    }
    const at = this.endOffset % this.capacity;
    const first = Math.min(data.byteLength, this.capacity - at);
    this.bytes.set(data.subarray(0, first), at);
    if (first < data.byteLength) this.bytes.set(data.subarray(first), 0);
    this.endOffset += data.byteLength;
  }

  /**
   * Returns up to `max` bytes starting at `offset` as a view into the ring (no copy); shorter
   * than asked where the ring wraps, so read again from `offset + result.length`. The view is
   * valid only until the next write. `offset` must be within [oldest, end].
   */
  read(offset: number, max: number): Buffer {
    if (offset < this.oldest || offset > this.endOffset) {
      throw new RangeError(`offset ${offset} is outside [${this.oldest}, ${this.endOffset}]`);
    }
    const at = offset % this.capacity;
    const length = Math.min(max, this.endOffset - offset, this.capacity - at);
    return this.bytes.subarray(at, at + length);
  }
}
