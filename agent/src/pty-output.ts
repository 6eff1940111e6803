// A session's output, read from its PTY in C (agent/native/pty-reader.c) and handed over in
// batches: one call per batch instead of a turn of JavaScript per 4 KiB read; the reader also
// writes the batches to the clients on its lanes (output-lanes.ts). node-pty still starts the
// program, resizes, signals and reports the exit; only its reading is replaced.
import { Socket } from 'node:net';
import { getSystemErrorName } from 'node:util';
import type { IPty } from 'node-pty';
import { loadAddon } from '../../core/src/native/load-addon.js';

interface PtyReaderAddon {
  open(
    wrapper: PtyOutput,
    fd: number,
    staging: Buffer,
    spill: Buffer,
    onOutput: (length: number) => void,
    onEnd: (errno: number) => void,
    onLaneExit: (id: number, written: number, frameLength: number, length: number) => void,
  ): void;
  pause(wrapper: PtyOutput): void;
  resume(wrapper: PtyOutput): void;
  take(wrapper: PtyOutput): number;
  lane(wrapper: PtyOutput, socketFd: number, maxLength: number): number;
  unlane(wrapper: PtyOutput, id: number): void;
  close(wrapper: PtyOutput): void;
}

/** The largest batch: 64 KiB gathered plus the read that crossed it (STAGING_MIN in pty-reader.c). */
export const MAX_BATCH_BYTES = 128 * 1024;
/** The longest frame header the reader writes to a lane: WebSocket's 10 bytes and the output message's 9. */
const FRAME_HEAD_MAX = 19;
/** `written` of a lane that left before a batch over its maximum (LEFT_BEFORE in pty-reader.c). */
const LEFT_BEFORE = -2;

export interface PtyOutputHandlers {
  /** A batch of output, in order; the view is valid only during the call. */
  output(chunk: Buffer): void;
  /**
   * Nothing more will come: every holder of the terminal closed it (`error` null: the normal end,
   * the program's exit is reported next), or reading failed (`error` the errno's name).
   */
  end(error: string | null): void;
  /**
   * A lane left as the reader wrote the batch of `length` bytes that comes next to `output`: its
   * socket could not take the frame whole. `rest` is what the socket did not take (to write before
   * anything else), or null when the socket failed (the client is gone). A lane that left before
   * a batch over its maximum is told `length` 0 and no rest: none of the batch was written.
   */
  laneExit(id: number, rest: Buffer | null, length: number): void;
}

let addon: PtyReaderAddon | null = null;

/** Loads the addon once; null when it loads, else why not (a start refuses with it, exit 2). */
export function loadPtyReader(): string | null {
  if (addon) return null;
  const load = loadAddon<PtyReaderAddon>('pty_reader.node');
  if ('problem' in load) return `the PTY reader: ${load.problem}`;
  addon = load.addon;
  return null;
}

function readerAddon(): PtyReaderAddon {
  const problem = loadPtyReader();
  if (problem !== null || addon === null) throw new Error(problem ?? 'the PTY reader did not load');
  return addon;
}

/**
 * node-pty reads the PTY through a tty.ReadStream it keeps as `_socket` (undeclared; node-pty is
 * pinned at 1.1.0, and test/integration/agent/pty-output.test.ts fails without this). That stream
 * must never read, or it would take output before our reader: its first read is scheduled for the
 * next tick (node-pty listens for 'data' in its constructor, and a tty.ReadStream starts only
 * then), so a `_read` that does nothing, set in the tick of the spawn, means it never reads at all.
 */
function silenceNodePtyStream(term: IPty): Socket {
  const stream = (term as unknown as { _socket?: unknown })._socket;
  if (!(stream instanceof Socket)) throw new Error('node-pty keeps no tty.ReadStream as _socket: the agent expects node-pty 1.1.0');
  stream._read = () => {};
  return stream;
}

export class PtyOutput {
  private readonly staging = Buffer.allocUnsafeSlow(MAX_BATCH_BYTES);
  private readonly spill = Buffer.allocUnsafeSlow(MAX_BATCH_BYTES + FRAME_HEAD_MAX);
  private readonly nodePtyStream: Socket;
  private closed = false;

  /** Call in the tick of `pty.spawn`, with the PTY's descriptor (the reader reads a copy of it). */
  constructor(term: IPty, fd: number, handlers: PtyOutputHandlers) {
    this.nodePtyStream = silenceNodePtyStream(term);
    readerAddon().open(
      this,
      fd,
      this.staging,
      this.spill,
      (length) => handlers.output(this.staging.subarray(0, length)),
      (errno) => {
        handlers.end(errno === 0 ? null : getSystemErrorName(-errno));
        // node-pty learns of the hang-up as from its own read, and reports the exit once the
        // program's status is in (it waits for its stream's close, or 200 ms after the exit).
        this.nodePtyStream.destroy();
      },
      // A copy: the socket holds what it is given until it is written.
      (id, written, frameLength, length) =>
        written === LEFT_BEFORE
          ? handlers.laneExit(id, null, 0)
          : handlers.laneExit(id, written < 0 ? null : Buffer.from(this.spill.subarray(written, frameLength)), length),
    );
  }

  /**
   * From the next batch on, the reader writes output frames to this socket itself (a copy of its
   * descriptor), as long as a batch is at most `maxLength` bytes. The caller makes sure the client
   * has every byte so far and nothing is queued for the socket. Returns the lane's id, or null
   * once the reader has ended or is closed.
   */
  lane(socketFd: number, maxLength = Number.MAX_SAFE_INTEGER): number | null {
    if (this.closed) return null;
    const id = readerAddon().lane(this, socketFd, maxLength);
    return id < 0 ? null : id;
  }

  /** The reader writes nothing more to that socket; at once, as it writes only within a batch. */
  unlane(id: number): void {
    if (!this.closed) readerAddon().unlane(this, id);
  }

  /** Stops reading: the program blocks once the PTY's buffer is full. */
  pause(): void {
    if (!this.closed) readerAddon().pause(this);
  }

  resume(): void {
    if (!this.closed) readerAddon().resume(this);
  }

  /**
   * Stops reading for good, and closes every lane. Returns what was read and not yet handed over
   * (a batch still gathering when the program's exit came), as a view valid until the next call.
   */
  close(): Buffer {
    if (this.closed) return this.staging.subarray(0, 0);
    this.closed = true;
    const pending = readerAddon().take(this);
    readerAddon().close(this);
    return this.staging.subarray(0, pending);
  }
}
