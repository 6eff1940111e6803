// The PTY a session runs in, its output ring, and the clients attached to it.
import { EventEmitter } from 'node:events';
import type { Socket } from 'node:net';
import * as pty from 'node-pty';
import type { WebSocket } from 'ws';
import { RingBuffer } from './ring-buffer.js';
import { Attachment, type ExitStatus } from './attachment.js';
import { FramePool } from './frame-pool.js';
import { PtyInput } from './pty-input.js';
import { MAX_BATCH_BYTES, PtyOutput } from './pty-output.js';
import { OutputLanes } from './output-lanes.js';
import {
  ACK_EVERY_BYTES,
  MAX_COLS,
  MAX_ROWS,
  NoticeCode,
  OUTPUT_HEADER_BYTES,
  ProtocolError,
  decodeClientMessage,
  encodeExit,
  encodeNotice,
  encodeResized,
  writeOutputHeader,
  type Role,
} from '../../core/src/protocol/messages.js';
import { CloseCode } from '../../core/src/protocol/close-codes.js';
import type { SessionCounters } from './metrics.js';
import type { AgentConfig } from './agent-config.js';

/** Input waiting for a program that does not read it, above which more is refused. */
const INPUT_BACKLOG_LIMIT = 1024 * 1024;
/** After a failed read of the PTY, how long the program has between SIGHUP and SIGKILL. */
const HANGUP_GRACE_MS = 2000;

export interface PtySessionOptions
  extends Pick<AgentConfig, 'command' | 'args' | 'cwd' | 'env' | 'cols' | 'rows' | 'ringBytes'> {
  /** How long a client has to send its attach message after the hello. */
  readonly attachTimeoutMs: number;
  /**
   * How long the position of a client that went away still counts as a reader, so that the
   * program waits instead of overwriting output that client will come back for (reconnects,
   * gateway restarts).
   */
  readonly resumeWindowMs: number;
  readonly now?: () => number;
}

export interface SessionStatus {
  readonly pid: number;
  readonly cols: number;
  readonly rows: number;
  readonly offset: number;
  readonly oldest: number;
  readonly attachments: number;
  readonly startedAt: string;
  readonly lastInputAt: string | null;
  readonly lastOutputAt: string | null;
  /** The program is blocked on output until a reader catches up. */
  readonly paused: boolean;
  readonly exit: ExitStatus | null;
}

export interface PtySessionEvents {
  output: [chunk: Buffer];
  resize: [cols: number, rows: number];
  exit: [status: ExitStatus];
  /** Every attachment has been given the exit status (or closed): the agent may stop. */
  drained: [];
}

export class PtySession extends EventEmitter<PtySessionEvents> implements SessionCounters {
  readonly ring: RingBuffer;
  private readonly pty: pty.IPty;
  private readonly input: PtyInput;
  private readonly output: PtyOutput;
  private readonly lanes: OutputLanes;
  private readonly attachments = new Set<Attachment>();
  private readonly now: () => number;
  private readonly startedAt: number;
  private lastInputAt: number | null = null;
  private lastOutputAt: number | null = null;
  private paused = false;
  /** The terminal hung up: its descriptor is closed or about to be, so no more input or resizes. */
  private hungUp = false;
  inputBytes = 0;
  replays = 0;
  private exitStatus: ExitStatus | null = null;
  /** The furthest position of clients that detached recently, and until when it counts. */
  private resumePoint: { position: number; until: number } | null = null;
  private resumeTimer: NodeJS.Timeout | null = null;
  private readonly frames = new FramePool(OUTPUT_HEADER_BYTES + MAX_BATCH_BYTES, 64);
  cols: number;
  rows: number;

  constructor(private readonly options: PtySessionOptions) {
    super();
    this.now = options.now ?? Date.now;
    this.startedAt = this.now();
    this.ring = new RingBuffer(options.ringBytes);
    this.cols = options.cols;
    this.rows = options.rows;
    this.pty = pty.spawn(options.command, [...options.args], {
      name: 'xterm-256color',
      cols: options.cols,
      rows: options.rows,
      cwd: options.cwd,
      env: options.env,
      // Raw bytes in and out: the agent never decodes the terminal stream.
      encoding: null,
    });
    // node-pty's UnixTerminal has an `fd` getter its IPty interface does not declare.
    const fd = (this.pty as unknown as { fd?: unknown }).fd;
    if (typeof fd !== 'number') throw new Error('node-pty gave no PTY file descriptor');
    this.input = new PtyInput(fd, INPUT_BACKLOG_LIMIT);
    this.output = new PtyOutput(this.pty, fd, {
      output: (chunk) => this.onOutput(chunk),
      end: (error) => this.onHangUp(error),
      laneExit: (id, rest, length) => this.lanes.exited(id, rest, this.ring.end + length),
    });
    this.lanes = new OutputLanes(this.output);
    this.pty.onExit(({ exitCode, signal }) => this.onExit({ code: exitCode, signal: signal ?? 0 }));
  }

  get pid(): number {
    return this.pty.pid;
  }

  /** Every output byte goes through the ring: its end is the total. */
  get outputBytes(): number {
    return this.ring.end;
  }

  get attachmentCount(): number {
    return this.attachments.size;
  }

  get exited(): ExitStatus | null {
    return this.exitStatus;
  }

  status(): SessionStatus {
    const iso = (t: number | null) => (t === null ? null : new Date(t).toISOString());
    return {
      pid: this.pty.pid,
      cols: this.cols,
      rows: this.rows,
      offset: this.ring.end,
      oldest: this.ring.oldest,
      attachments: this.attachmentCount,
      startedAt: new Date(this.startedAt).toISOString(),
      lastInputAt: iso(this.lastInputAt),
      lastOutputAt: iso(this.lastOutputAt),
      paused: this.paused,
      exit: this.exitStatus,
    };
  }

  /**
   * Takes a client whose token was verified: sends the hello and waits for its attach message.
   * `connection` is the socket under the WebSocket, when it has a descriptor of its own: then the
   * PTY reader may write the client's output itself (output-lanes.ts).
   */
  attach(socket: WebSocket, role: Role, user: string, connection: Socket | null): void {
    const attachment = new Attachment(
      socket,
      role,
      user,
      this.frames,
      () => this.onProgress(attachment),
      () => this.offerLane(attachment),
      connection,
    );
    this.lanes.guard(attachment);
    this.attachments.add(attachment);
    attachment.sendHello(this.cols, this.rows, this.ring);

    const attachTimer = setTimeout(() => {
      if (attachment.cursor === null) attachment.close(CloseCode.AttachTimeout.code, CloseCode.AttachTimeout.reason);
    }, this.options.attachTimeoutMs);

    socket.on('message', (data, isBinary) => {
      if (!isBinary) {
        attachment.close(CloseCode.TextFrame.code, CloseCode.TextFrame.reason);
        return;
      }
      this.onClientMessage(attachment, data as Buffer);
    });
    socket.on('close', () => {
      clearTimeout(attachTimer);
      this.lanes.leave(attachment);
      attachment.markClosed();
      this.attachments.delete(attachment);
      if (attachment.cursor !== null) this.holdResumePoint(attachment.position);
      this.updateFlow();
      this.checkDrained();
    });
    socket.on('error', () => socket.terminate());
  }

  private onClientMessage(attachment: Attachment, data: Buffer): void {
    let message;
    try {
      message = decodeClientMessage(data);
    } catch (error) {
      const reason = error instanceof ProtocolError ? error.message : CloseCode.Malformed.reason;
      attachment.close(CloseCode.Malformed.code, reason);
      return;
    }
    if (message === null) {
      attachment.send(encodeNotice(NoticeCode.UnknownType, `unknown message type 0x${data[0]!.toString(16)}`));
      return;
    }
    switch (message.type) {
      case 'attach':
        this.onAttach(attachment, message.offset);
        return;
      case 'ack':
        attachment.ack(message.offset);
        this.updateFlow();
        return;
      case 'input':
        if (attachment.role !== 'rw') {
          attachment.send(encodeNotice(NoticeCode.ReadOnly, 'this attachment is read-only: input refused'));
          return;
        }
        if (this.exitStatus) return;
        if (!this.input.write(message.data)) {
          attachment.send(
            encodeNotice(NoticeCode.InputRefused, `input refused: ${this.input.backlog} bytes already wait for the program, which is not reading them`),
          );
          return;
        }
        this.lastInputAt = this.now();
        this.inputBytes += message.data.byteLength;
        return;
      case 'resize':
        this.onResize(attachment, message.cols, message.rows);
        return;
    }
  }

  private onAttach(attachment: Attachment, offset: number): void {
    if (attachment.cursor !== null) {
      attachment.send(encodeNotice(NoticeCode.AlreadyAttached, 'already attached: attach is sent once'));
      return;
    }
    if (offset > this.ring.end) {
      attachment.close(
        CloseCode.OffsetOutOfRange.code,
        `attach offset ${Number.isFinite(offset) ? offset : '>= 2^53'} is beyond the output end ${this.ring.end}`,
      );
      return;
    }
    if (offset < this.ring.end) this.replays += 1;
    attachment.cursor = offset;
    attachment.pump(this.ring, this.exitStatus);
    this.offerLane(attachment);
    this.updateFlow();
  }

  private onResize(attachment: Attachment, cols: number, rows: number): void {
    if (attachment.role !== 'rw') {
      attachment.send(encodeNotice(NoticeCode.ReadOnly, 'this attachment is read-only: resize refused'));
      return;
    }
    if (cols < 1 || rows < 1 || cols > MAX_COLS || rows > MAX_ROWS) {
      attachment.send(
        encodeNotice(NoticeCode.BadResize, `size ${cols}x${rows} refused: columns and rows must be 1 to ${MAX_COLS}`),
      );
      return;
    }
    if (this.exitStatus || this.hungUp || (cols === this.cols && rows === this.rows)) return;
    this.cols = cols;
    this.rows = rows;
    this.pty.resize(cols, rows);
    this.emit('resize', cols, rows);
    const frame = encodeResized(cols, rows);
    for (const other of this.attachments) if (other.attached) other.send(frame);
  }

  /** A batch of output (the reader gathers bursts into batches of up to 64 KiB, pty-reader.c). */
  private onOutput(chunk: Buffer): void {
    const from = this.ring.end;
    this.ring.write(chunk);
    this.lastOutputAt = this.now();
    this.emit('output', chunk);
    this.sendBatch(from, this.ring.end);
  }

  /**
   * Every holder of the terminal closed it; the program's exit follows from node-pty. Reading
   * failed otherwise (never seen): the session cannot go on, so it ends as on a hang-up.
   */
  private onHangUp(error: string | null): void {
    this.hungUp = true;
    this.input.close();
    if (error !== null) this.terminate(HANGUP_GRACE_MS);
  }

  /** Sends the batch at ring offsets [from, to) to every attached client. */
  private sendBatch(from: number, to: number): void {
    // Clients on a lane got the batch from the reader already. Those that were caught up get
    // one frame, built once and shared; the others read the ring.
    const caughtUp: Attachment[] = [];
    for (const attachment of this.attachments) {
      if (attachment.laneId !== null) attachment.cursor = to;
      else if (attachment.cursor === from && attachment.canSendNow && from >= this.ring.oldest) caughtUp.push(attachment);
      else attachment.pump(this.ring, null);
    }
    if (caughtUp.length > 0) {
      const { frame, release } = this.frameOf(from, to, caughtUp.length);
      for (const attachment of caughtUp) attachment.sendShared(frame, to, release);
    }
    this.updateFlow();
  }

  /**
   * A client that has every byte so far, and nothing on its way, gets the next batches from the
   * reader: asked when it attaches and each time its socket has taken everything it was sent.
   */
  private offerLane(attachment: Attachment): void {
    if (attachment.attached && attachment.cursor === this.ring.end && this.exitStatus === null) this.lanes.offer(attachment);
  }

  /** One output frame holding ring bytes [from, to): at most two copies where the ring wraps. */
  private frameOf(from: number, to: number, users: number): { frame: Buffer; release: () => void } {
    const taken = this.frames.take(OUTPUT_HEADER_BYTES + (to - from), users);
    const frame = taken.frame;
    writeOutputHeader(frame, from);
    let at = from;
    while (at < to) {
      const part = this.ring.read(at, to - at);
      part.copy(frame, OUTPUT_HEADER_BYTES + (at - from));
      at += part.byteLength;
    }
    return taken;
  }

  private onProgress(attachment: Attachment): void {
    attachment.pump(this.ring, this.exitStatus);
    this.updateFlow();
  }

  /**
   * Pauses the PTY only when every reader is far behind, so that output is never made faster
   * than anyone reads it, while one slow viewer never holds back the others. Readers are the
   * attached clients and, during the resume window, the position of clients that went away.
   */
  private updateFlow(): void {
    if (this.exitStatus) return;
    const pauseLag = this.ring.capacity / 2;
    const resumeLag = Math.max(this.ring.capacity / 4, 2 * ACK_EVERY_BYTES);
    let readers = 0;
    let minLag = Number.POSITIVE_INFINITY;
    for (const attachment of this.attachments) {
      if (!attachment.attached) continue;
      readers += 1;
      minLag = Math.min(minLag, this.ring.end - attachment.position);
    }
    if (this.resumePoint) {
      readers += 1;
      minLag = Math.min(minLag, this.ring.end - this.resumePoint.position);
    }
    if (!this.paused && readers > 0 && minLag > pauseLag) {
      this.paused = true;
      this.output.pause();
    } else if (this.paused && (readers === 0 || minLag <= resumeLag)) {
      this.paused = false;
      this.output.resume();
    }
  }

  private holdResumePoint(position: number): void {
    if (this.options.resumeWindowMs <= 0 || this.exitStatus) return;
    const until = this.now() + this.options.resumeWindowMs;
    this.resumePoint = { position: Math.max(position, this.resumePoint?.position ?? 0), until };
    if (this.resumeTimer) clearTimeout(this.resumeTimer);
    this.resumeTimer = setTimeout(() => {
      this.resumePoint = null;
      this.resumeTimer = null;
      this.updateFlow();
    }, this.options.resumeWindowMs);
    this.resumeTimer.unref();
  }

  private onExit(status: ExitStatus): void {
    this.input.close();
    // node-pty reports the exit at the hang-up, or 200 ms after the program's status when no
    // hang-up comes: a batch the reader is still gathering then is the last output.
    const last = this.output.close();
    this.lanes.clear();
    if (last.byteLength > 0) this.onOutput(last);
    this.exitStatus = status;
    if (this.resumeTimer) clearTimeout(this.resumeTimer);
    this.emit('exit', status);
    for (const attachment of this.attachments) {
      if (attachment.attached) attachment.pump(this.ring, status);
      else {
        attachment.send(encodeExit(status.code, status.signal));
        attachment.close(CloseCode.SessionEnded.code, CloseCode.SessionEnded.reason);
      }
    }
    this.checkDrained();
  }

  private checkDrained(): void {
    if (this.exitStatus && this.attachments.size === 0) this.emit('drained');
  }

  /**
   * Ends the process as a terminal hangup does: SIGHUP (interactive shells ignore SIGTERM, and
   * pass a hangup on to their jobs), then SIGKILL after `graceMs`.
   */
  terminate(graceMs: number): void {
    if (this.exitStatus) return;
    this.pty.kill('SIGHUP');
    const timer = setTimeout(() => {
      if (!this.exitStatus) this.pty.kill('SIGKILL');
    }, graceMs);
    timer.unref();
  }

  /** Closes every attachment now, e.g. when the agent must stop before clients caught up. */
  closeAll(code: number, reason: string): void {
    for (const attachment of this.attachments) attachment.close(code, reason);
  }
}
