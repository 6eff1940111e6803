// What the scale benchmark's stand-in agent writes, known to both ends so that the client can
// check every byte it gets: sessions whose id starts with STREAM_PREFIX produce a fixed pattern
// at a steady rate (the byte at offset i is patternByte(i)); the others produce only the echo of
// what is typed, as a shell's line discipline would.
export const STREAM_PREFIX = 'st-';
/** Every STREAM_INTERVAL_MS each streaming session appends STREAM_BYTES. */
export const STREAM_INTERVAL_MS = 100;
export const STREAM_BYTES = 32;

export function patternByte(offset: number): number {
  return (offset * 31 + 7) % 251;
}

export function patternBytes(from: number, to: number): Buffer {
  const out = Buffer.alloc(to - from);
  for (let i = 0; i < out.length; i++) out[i] = patternByte(from + i);
  return out;
}
