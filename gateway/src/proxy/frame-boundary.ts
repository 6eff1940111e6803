// Follows WebSocket frame boundaries in a byte stream without decoding or copying payloads: it
// reads only the 2–14 header bytes of each frame and skips the payload by counting. The splice
// uses it to know where it may inject a close frame of its own (at shutdown, or when the agent
// vanishes) without cutting a frame in half.
//
// The state is a handful of small integers, no header buffer: one tracker lives per attachment,
// and a gateway holds tens of thousands of them.

const OPCODE_CLOSE = 0x8;

export class FrameBoundaryTracker {
  /** Header bytes of the frame in progress seen so far; 0 between frames and within payloads. */
  private headerSeen = 0;
  /** The whole header's size, known once its second byte is seen. */
  private headerSize = 2;
  /** How many extended-length bytes follow the second byte (0, 2 or 8). */
  private lengthBytes = 0;
  private opcode = 0;
  /** The payload length as read so far (big-endian, byte by byte). */
  private payloadLength = 0;
  private payloadLeft = 0;
  /** True once a close frame passed: the stream has ended cleanly at the WebSocket level. */
  closeSeen = false;

  get atBoundary(): boolean {
    return this.headerSeen === 0 && this.payloadLeft === 0;
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
        this.headerByte(chunk[i++]!);
      }
      if (stopAtBoundary && this.atBoundary) return i;
    }
    return i;
  }

  private headerByte(byte: number): void {
    const index = this.headerSeen++;
    if (index === 0) {
      this.opcode = byte & 0x0f;
      return;
    }
    if (index === 1) {
      const len7 = byte & 0x7f;
      this.lengthBytes = len7 === 126 ? 2 : len7 === 127 ? 8 : 0;
      this.headerSize = 2 + this.lengthBytes + (byte & 0x80 ? 4 : 0);
      this.payloadLength = this.lengthBytes === 0 ? len7 : 0;
    } else if (index < 2 + this.lengthBytes) {
      // Multiplying rather than shifting keeps 64-bit lengths exact up to 2^53.
      this.payloadLength = this.payloadLength * 256 + byte;
    }
    if (this.headerSeen === this.headerSize) {
      if (this.opcode === OPCODE_CLOSE) this.closeSeen = true;
      this.payloadLeft = this.payloadLength;
      this.headerSeen = 0;
    }
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
