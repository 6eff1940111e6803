// The terminal protocol spoken between a client (browser, CLI, test) and the PTY agent.
// Every message is one binary WebSocket frame whose first byte is its type. docs/protocol.md
// is the reference; this module is the only encoder/decoder, shared by the agent (Node) and the
// browser page, so it uses Uint8Array and DataView only — never Buffer.

export const PROTOCOL_VERSION = 1;

/** Client → agent message types. */
export const ClientType = {
  Input: 0x01,
  Resize: 0x02,
  Attach: 0x03,
  Ack: 0x04,
} as const;

/** Agent → client message types. */
export const AgentType = {
  Hello: 0x81,
  Output: 0x82,
  Gap: 0x83,
  Resized: 0x84,
  Exit: 0x85,
  Notice: 0x86,
} as const;

export type Role = 'rw' | 'ro';

/** Terminal sizes outside this range are refused: 0 breaks programs, huge ones exhaust memory. */
export const MAX_COLS = 1000;
export const MAX_ROWS = 1000;

export type ClientMessage =
  | { type: 'input'; data: Uint8Array }
  | { type: 'resize'; cols: number; rows: number }
  | { type: 'attach'; offset: number }
  | { type: 'ack'; offset: number };

export type AgentMessage =
  | { type: 'hello'; version: number; role: Role; cols: number; rows: number; offset: number; oldest: number }
  | { type: 'output'; offset: number; data: Uint8Array }
  | { type: 'gap'; from: number; to: number }
  | { type: 'resized'; cols: number; rows: number }
  | { type: 'exit'; code: number; signal: number }
  | { type: 'notice'; code: NoticeCode; message: string };

/** Non-fatal notices: the attachment stays open. */
export const NoticeCode = {
  ReadOnly: 1,
  UnknownType: 2,
  AlreadyAttached: 3,
  BadResize: 4,
  InputRefused: 5,
} as const;
export type NoticeCode = (typeof NoticeCode)[keyof typeof NoticeCode];

export class ProtocolError extends Error {
  override readonly name = 'ProtocolError';
}

const OUTPUT_HEADER = 9;

function view(bytes: Uint8Array): DataView {
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

// Offsets are byte counts since the session began; 2^53 bytes is far beyond any session, so a
// JS number holds them exactly. They travel as big-endian u64.
function writeOffset(dv: DataView, at: number, offset: number): void {
  dv.setUint32(at, Math.floor(offset / 0x1_0000_0000));
  dv.setUint32(at + 4, offset >>> 0);
}

function readOffset(dv: DataView, at: number): number {
  const high = dv.getUint32(at);
  const low = dv.getUint32(at + 4);
  // Anything at or above 2^53 cannot be a real offset; report it as infinitely far ahead.
  if (high >= 0x20_0000) return Number.POSITIVE_INFINITY;
  return high * 0x1_0000_0000 + low;
}

// ---- client → agent -------------------------------------------------------------------------

export function encodeInput(data: Uint8Array): Uint8Array {
  const out = new Uint8Array(1 + data.byteLength);
  out[0] = ClientType.Input;
  out.set(data, 1);
  return out;
}

export function encodeResize(cols: number, rows: number): Uint8Array {
  const out = new Uint8Array(5);
  const dv = view(out);
  dv.setUint8(0, ClientType.Resize);
  dv.setUint16(1, cols);
  dv.setUint16(3, rows);
  return out;
}

export function encodeAttach(offset: number): Uint8Array {
  const out = new Uint8Array(9);
  const dv = view(out);
  dv.setUint8(0, ClientType.Attach);
  writeOffset(dv, 1, offset);
  return out;
}

/** "I have received (and shown) everything before `offset`." Drives end-to-end flow control. */
export function encodeAck(offset: number): Uint8Array {
  const out = encodeAttach(offset);
  out[0] = ClientType.Ack;
  return out;
}

/**
 * Clients send an ack each time this many bytes arrived since their last ack. The agent resumes a
 * paused program once a reader is within a quarter of the ring (at least 32 KiB) of the end, so
 * the unacknowledged remainder (< 16 KiB) can never keep it paused.
 */
export const ACK_EVERY_BYTES = 16 * 1024;
/**
 * Clients send input in messages of at most this many bytes: far below the agent's maximum
 * message size (1 MiB), so a large paste is several messages rather than a closed connection.
 */
export const MAX_INPUT_CHUNK_BYTES = 64 * 1024;

/**
 * Decodes a client message. Returns null for an unknown type (the agent answers with a notice,
 * so that newer clients keep working with older agents); throws ProtocolError for a message of
 * a known type with the wrong length.
 */
export function decodeClientMessage(bytes: Uint8Array): ClientMessage | null {
  if (bytes.byteLength === 0) throw new ProtocolError('empty message');
  const dv = view(bytes);
  switch (bytes[0]) {
    case ClientType.Input:
      return { type: 'input', data: bytes.subarray(1) };
    case ClientType.Resize:
      if (bytes.byteLength !== 5) throw new ProtocolError(`resize is 5 bytes, got ${bytes.byteLength}`);
      return { type: 'resize', cols: dv.getUint16(1), rows: dv.getUint16(3) };
    case ClientType.Attach:
      if (bytes.byteLength !== 9) throw new ProtocolError(`attach is 9 bytes, got ${bytes.byteLength}`);
      return { type: 'attach', offset: readOffset(dv, 1) };
    case ClientType.Ack:
      if (bytes.byteLength !== 9) throw new ProtocolError(`ack is 9 bytes, got ${bytes.byteLength}`);
      return { type: 'ack', offset: readOffset(dv, 1) };
    default:
      return null;
  }
}

// ---- agent → client -------------------------------------------------------------------------

export function encodeHello(m: Omit<Extract<AgentMessage, { type: 'hello' }>, 'type' | 'version'>): Uint8Array {
  const out = new Uint8Array(23);
  const dv = view(out);
  dv.setUint8(0, AgentType.Hello);
  dv.setUint8(1, PROTOCOL_VERSION);
  dv.setUint8(2, m.role === 'rw' ? 0 : 1);
  dv.setUint16(3, m.cols);
  dv.setUint16(5, m.rows);
  writeOffset(dv, 7, m.offset);
  writeOffset(dv, 15, m.oldest);
  return out;
}

/** Writes an output header into the first 9 bytes of `frame`; the caller fills the payload. */
export function writeOutputHeader(frame: Uint8Array, offset: number): void {
  const dv = view(frame);
  dv.setUint8(0, AgentType.Output);
  writeOffset(dv, 1, offset);
}

export const OUTPUT_HEADER_BYTES = OUTPUT_HEADER;

export function encodeOutput(offset: number, data: Uint8Array): Uint8Array {
  const out = new Uint8Array(OUTPUT_HEADER + data.byteLength);
  writeOutputHeader(out, offset);
  out.set(data, OUTPUT_HEADER);
  return out;
}

export function encodeGap(from: number, to: number): Uint8Array {
  const out = new Uint8Array(17);
  const dv = view(out);
  dv.setUint8(0, AgentType.Gap);
  writeOffset(dv, 1, from);
  writeOffset(dv, 9, to);
  return out;
}

export function encodeResized(cols: number, rows: number): Uint8Array {
  const out = encodeResize(cols, rows);
  out[0] = AgentType.Resized;
  return out;
}

export function encodeExit(code: number, signal: number): Uint8Array {
  const out = new Uint8Array(9);
  const dv = view(out);
  dv.setUint8(0, AgentType.Exit);
  dv.setInt32(1, code);
  dv.setInt32(5, signal);
  return out;
}

const utf8 = new TextEncoder();
const utf8Decoder = new TextDecoder();

export function encodeNotice(code: NoticeCode, message: string): Uint8Array {
  const text = utf8.encode(message);
  const out = new Uint8Array(3 + text.byteLength);
  const dv = view(out);
  dv.setUint8(0, AgentType.Notice);
  dv.setUint16(1, code);
  out.set(text, 3);
  return out;
}

export function decodeAgentMessage(bytes: Uint8Array): AgentMessage | null {
  if (bytes.byteLength === 0) throw new ProtocolError('empty message');
  const dv = view(bytes);
  const need = (n: number, what: string) => {
    if (bytes.byteLength < n) throw new ProtocolError(`${what} needs ${n} bytes, got ${bytes.byteLength}`);
  };
  switch (bytes[0]) {
    case AgentType.Hello:
      need(23, 'hello');
      return {
        type: 'hello',
        version: dv.getUint8(1),
        role: dv.getUint8(2) === 0 ? 'rw' : 'ro',
        cols: dv.getUint16(3),
        rows: dv.getUint16(5),
        offset: readOffset(dv, 7),
        oldest: readOffset(dv, 15),
      };
    case AgentType.Output:
      need(OUTPUT_HEADER, 'output');
      return { type: 'output', offset: readOffset(dv, 1), data: bytes.subarray(OUTPUT_HEADER) };
    case AgentType.Gap:
      need(17, 'gap');
      return { type: 'gap', from: readOffset(dv, 1), to: readOffset(dv, 9) };
    case AgentType.Resized:
      need(5, 'resized');
      return { type: 'resized', cols: dv.getUint16(1), rows: dv.getUint16(3) };
    case AgentType.Exit:
      need(9, 'exit');
      return { type: 'exit', code: dv.getInt32(1), signal: dv.getInt32(5) };
    case AgentType.Notice:
      need(3, 'notice');
      return { type: 'notice', code: dv.getUint16(1) as NoticeCode, message: utf8Decoder.decode(bytes.subarray(3)) };
    default:
      return null;
  }
}
