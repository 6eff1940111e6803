// permessage-deflate (RFC 7692) as CloudTerm's two ends speak it: the agent accepts it, the page
// (the browser's own offer) and the terminal client offer it, and the gateway passes the offer and
// the answer through without decoding a frame (docs/protocol.md, "Compression"). The figures behind
// each setting are in docs/decisions.md and docs/benchmarks.md.

/**
 * Messages smaller than this are sent as they are. Keystroke echo and small redraws then cost no
 * trip through zlib (which runs on Node's thread pool, a hop each way), and a frame of under a
 * kilobyte saves less by compression than it costs in latency. ws applies its own threshold only
 * without context takeover, so every sender passes `compress` itself.
 */
export const COMPRESS_MIN_BYTES = 1024;

/**
 * The agent's side, as ws's WebSocketServer options take it. Context takeover stays on both ways:
 * terminal output arrives as many small messages (a PTY read each), and without the previous
 * messages' window each would be compressed alone. The agent's window is 2^13 = 8 KiB with a
 * memLevel-7 hash: about 96 KiB of zlib state per attachment (2^(13+2) + 2^(7+9) bytes), where
 * zlib's defaults (15, 8) take 256 KiB; 8 KiB still holds the previous screen of a full-screen
 * redraw. Level 1: the agent compresses everything a terminal prints, and at level 1 zlib is
 * about twice as fast as at its default 6 for most of the ratio on terminal output. The client's
 * window is left to the client: its messages are keystrokes, and the agent's inflater for them is
 * at most 2^15 bytes plus zlib's 7 KiB.
 */
export const AGENT_DEFLATE = {
  serverMaxWindowBits: 13,
  zlibDeflateOptions: { level: 1, memLevel: 7 },
} as const;

const COMPRESSED = { binary: true, compress: true } as const;
/** ws send options for a message that is small by its kind (an ack, a resize, an attach). */
export const UNCOMPRESSED = { binary: true, compress: false } as const;

/** ws send options: binary, compressed only when large enough to gain. */
export function sendOptions(bytes: number): typeof COMPRESSED | typeof UNCOMPRESSED {
  return bytes >= COMPRESS_MIN_BYTES ? COMPRESSED : UNCOMPRESSED;
}
