// Follows WebSocket frame boundaries in a byte stream without decoding or copying payloads: it
// reads only the 2–14 header bytes of each frame and skips the payload by counting. The splice
// uses it to know where it may inject a close frame of its own (at shutdown, or when the agent
// vanishes) without cutting a frame in half.

const OPCODE_CLOSE = 0x8;

export class FrameBoundaryTracker {
  private readonly header = Buffer.alloc(14);
  private headerLength = 0;
  private payloadLeft = 0;
  /** True once a close frame passed: the stream has ended cleanly at the WebSocket level. */
  closeSeen = false;

  get atBoundary(): boolean {
    return this.headerLength === 0 && this.payloadLeft === 0;
  }

  /**
   * Advances over `chunk`. With `stopAtBoundary`, stops right after the frame in progress ends
   * and returns how many bytes of `chunk` that took (chunk.length when it did not end).
   */
  feed(chunk: Buffer, stopAtBoundary = false): number {
    let i = 0;
    while (i < chunk.length) {
      if (this.payloadLeft > 0) {
        const skip = Math.min(this.payloadLeft, chunk.length - i);
        this.payloadLeft -= skip;
        i += skip;
      } else {
        this.header[this.headerLength++] = chunk[i++]!;
        this.completeHeader();
      }
      if (stopAtBoundary && this.atBoundary) return i;
    }
    return i;
  }

  private completeHeader(): void {
    if (this.headerLength < 2) return;
    const b1 = this.header[1]!;
    const len7 = b1 & 0x7f;
    const size = 2 + (len7 === 126 ? 2 : len7 === 127 ? 8 : 0) + (b1 & 0x80 ? 4 : 0);
    if (this.headerLength < size) return;
    if ((this.header[0]! & 0x0f) === OPCODE_CLOSE) this.closeSeen = true;
    this.payloadLeft =
      len7 === 126 ? this.header.readUInt16BE(2) : len7 === 127 ? Number(this.header.readBigUInt64BE(2)) : len7;
    this.headerLength = 0;
  }
}

/** An unmasked (server → client) close frame with a code and a short reason. */
export function closeFrame(code: number, reason: string): Buffer {
  const text = Buffer.from(reason.slice(0, 120), 'utf8');
  const frame = Buffer.allocUnsafe(4 + text.length);
  frame[0] = 0x80 | OPCODE_CLOSE;
  frame[1] = 2 + text.length;
  frame.writeUInt16BE(code, 2);
  text.copy(frame, 4);
  return frame;
}
