// The few RFC 6455 framing pieces the scale benchmark's processes speak on raw sockets (the light
// upstream on one side, the client workers on the other): tens of thousands of connections per
// process, where a `ws` object each would be the benchmark's own cost rather than the gateway's.
import { createHash, randomBytes } from 'node:crypto';

/** RFC 6455's GUID: Sec-WebSocket-Accept is base64(sha1(key + this)). */
export const WS_GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';

const HEAD_END = Buffer.from('\r\n\r\n');

/** A client's side of one upgrade: the request to send and the check of the answer. */
export class ClientHandshake {
  private readonly key = randomBytes(16).toString('base64');
  private readonly accept = createHash('sha1').update(this.key + WS_GUID).digest('base64');
  private head: Buffer = Buffer.alloc(0);

  /** The upgrade request for `path`; `extra` is more header lines, each ending in CRLF. */
  request(port: number, path: string, extra: string): string {
    return (
      `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
      `Sec-WebSocket-Key: ${this.key}\r\nSec-WebSocket-Version: 13\r\n${extra}\r\n`
    );
  }

  /**
   * Takes bytes of the answer: null while its head is incomplete; then either why it failed
   * (`HTTP 503 store_unavailable`, a bad accept) or the bytes that came after the head.
   */
  push(chunk: Buffer): { readonly failure: string } | { readonly rest: Buffer } | null {
    this.head = this.head.length === 0 ? chunk : Buffer.concat([this.head, chunk]);
    const end = this.head.indexOf(HEAD_END);
    if (end === -1) return null;
    const text = this.head.subarray(0, end).toString('latin1');
    const status = /^HTTP\/1\.1 (\d{3})/.exec(text)?.[1] ?? 'garbage';
    if (status !== '101') {
      const code = /"code":"([a-z_]+)"/.exec(this.head.toString('latin1'))?.[1];
      return { failure: `HTTP ${status}${code ? ` ${code}` : ''}` };
    }
    if (/^sec-websocket-accept:\s*(\S+)\s*$/im.exec(text)?.[1] !== this.accept) return { failure: 'bad Sec-WebSocket-Accept' };
    return { rest: this.head.subarray(end + HEAD_END.length) };
  }
}

export const OPCODE_BINARY = 0x2;
export const OPCODE_CLOSE = 0x8;

export interface Frame {
  readonly opcode: number;
  readonly payload: Buffer;
}

function header(length: number, masked: boolean, opcode: number): Buffer {
  const maskBit = masked ? 0x80 : 0;
  if (length < 126) return Buffer.from([0x80 | opcode, maskBit | length]);
  if (length < 65_536) {
    const head = Buffer.from([0x80 | opcode, maskBit | 126, 0, 0]);
    head.writeUInt16BE(length, 2);
    return head;
  }
  const head = Buffer.alloc(10);
  head[0] = 0x80 | opcode;
  head[1] = maskBit | 127;
  head.writeBigUInt64BE(BigInt(length), 2);
  return head;
}

/** A frame as a server sends it (unmasked). */
export function serverFrame(payload: Uint8Array, opcode = OPCODE_BINARY): Buffer {
  return Buffer.concat([header(payload.byteLength, false, opcode), payload]);
}

/** A frame as a client must send it (masked). */
export function clientFrame(payload: Uint8Array, opcode = OPCODE_BINARY): Buffer {
  const mask = randomBytes(4);
  const body = Buffer.from(payload);
  for (let i = 0; i < body.length; i++) body[i]! ^= mask[i & 3]!;
  return Buffer.concat([header(payload.byteLength, true, opcode), mask, body]);
}

/**
 * Splits a byte stream into frames, masked or not, across chunk boundaries. Fragmented messages
 * do not occur here (neither side fragments), so each frame is taken as one message.
 */
export class FrameReader {
  private pending: Buffer = Buffer.alloc(0);

  push(chunk: Buffer): Frame[] {
    this.pending = this.pending.length === 0 ? chunk : Buffer.concat([this.pending, chunk]);
    const frames: Frame[] = [];
    for (;;) {
      const buf = this.pending;
      if (buf.length < 2) break;
      const masked = (buf[1]! & 0x80) !== 0;
      let length = buf[1]! & 0x7f;
      let at = 2;
      if (length === 126) {
        if (buf.length < 4) break;
        length = buf.readUInt16BE(2);
        at = 4;
      } else if (length === 127) {
        if (buf.length < 10) break;
        length = Number(buf.readBigUInt64BE(2));
        at = 10;
      }
      const maskAt = at;
      if (masked) at += 4;
      if (buf.length < at + length) break;
      const payload = Buffer.from(buf.subarray(at, at + length));
      if (masked) for (let i = 0; i < payload.length; i++) payload[i]! ^= buf[maskAt + (i & 3)]!;
      frames.push({ opcode: buf[0]! & 0x0f, payload });
      this.pending = buf.subarray(at + length);
    }
    if (this.pending.length === 0) this.pending = Buffer.alloc(0);
    return frames;
  }
}

/** The close code of a close frame's payload (1005 when it has none). */
export function closeCode(payload: Buffer): number {
  return payload.length >= 2 ? payload.readUInt16BE(0) : 1005;
}
