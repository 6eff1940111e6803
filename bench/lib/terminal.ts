// What every measured terminal looks like to the measurements: keys go in, output chunks come out.
import { WebSocket } from 'ws';

export type Chunk = Buffer | string;

/**
 * What the measurements drive: keys in, output chunks out. `C` is what the client hands on: a
 * client that only ever gets bytes (the gateway benchmark's) can say so and still be measured.
 */
export interface Keyboard<C extends Chunk = Chunk> {
  /** Sends keystrokes, as a browser would on key presses. */
  type(text: string): void;
  /** Receives every output chunk (bytes from binary servers, text from wetty); set by a measurement. */
  sink: (chunk: C) => void;
}

export interface Terminal extends Keyboard {
  close(): Promise<void>;
}

export interface Target {
  readonly name: string;
  /** The server process measured, or null when the terminal runs in the benchmark's own process. */
  readonly pid: number | null;
  /** A new client: for the agent an attachment to its one session, for wetty a new session. */
  open(role: 'rw' | 'ro'): Promise<Terminal>;
  stop(): Promise<void>;
}

export function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what}`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** A WebSocket client's close(): cut at once (the measurement is over), resolved once closed. */
export async function terminateWebSocket(socket: WebSocket): Promise<void> {
  if (socket.readyState === WebSocket.CLOSED) return;
  const closed = new Promise((resolve) => socket.once('close', resolve));
  socket.terminate();
  await closed;
}
