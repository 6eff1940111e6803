// Output lanes: clients whose output frames the PTY reader writes itself, in C, as it reads
// (pty-reader.c, "Lanes"). A client is given a lane when it has every byte so far and nothing is
// on its way to its socket; from then on a batch reaches it with no JavaScript and no copy. It
// leaves the lane when JavaScript writes to its socket (a notice, a resize, ws's own pongs and
// close frames: every write is caught, see guard), when its socket cannot take a frame whole (the
// rest is handed over and written first), and with the session's end. A lane carries exactly what
// the JavaScript path would have sent: the same frames, at the same offsets.
import type { Socket } from 'node:net';
import type { Attachment } from './attachment.js';
import type { PtyOutput } from './pty-output.js';
import { socketDescriptor } from '../../core/src/net/socket-descriptor.js';
import { COMPRESS_MIN_BYTES } from '../../core/src/protocol/compression.js';

export class OutputLanes {
  private readonly byId = new Map<number, Attachment>();

  constructor(private readonly output: PtyOutput) {}

  /**
   * Makes every write and close of the client's connection from JavaScript take the lane back
   * first, so that the reader never writes after it. ws writes to the socket on its own (pongs,
   * the close handshake, refusing a bad frame), so the catch is on the socket, not on our sends.
   */
  guard(attachment: Attachment): void {
    const connection = attachment.connection;
    if (connection === null) return;
    const leave = () => this.leave(attachment);
    const leaveFirst = <F extends (...args: never[]) => unknown>(method: F): F =>
      function (this: Socket, ...args: Parameters<F>) {
        leave();
        return method.apply(this, args);
      } as F;
    connection.write = leaveFirst(connection.write);
    connection.end = leaveFirst(connection.end);
    connection.destroy = leaveFirst(connection.destroy);
  }

  /**
   * Gives a client that has every byte so far, and nothing on its way, to the reader. One that
   * negotiated compression only for batches that are sent uncompressed anyway (under
   * COMPRESS_MIN_BYTES: a keystroke's echo): the reader writes plain frames, and a larger batch
   * makes it leave the lane before it, so that ws compresses that batch, in order with everything
   * else sent to it.
   */
  offer(attachment: Attachment): void {
    if (attachment.laneId !== null || attachment.connection === null || !attachment.idle) return;
    const fd = socketDescriptor(attachment.connection);
    if (fd === null) return;
    const id = attachment.socket.extensions === '' ? this.output.lane(fd) : this.output.lane(fd, COMPRESS_MIN_BYTES - 1);
    if (id === null) return;
    attachment.laneId = id;
    this.byId.set(id, attachment);
  }

  /** Takes a client back: its output goes through JavaScript again. */
  leave(attachment: Attachment): void {
    const id = attachment.laneId;
    if (id === null) return;
    this.output.unlane(id);
    this.byId.delete(id);
    attachment.laneId = null;
  }

  /**
   * The reader could not write a frame whole to a lane: the client leaves it with the frame as
   * sent (its cursor past the batch, `batchEnd`), and the rest of the frame is written first.
   */
  exited(id: number, rest: Buffer | null, batchEnd: number): void {
    const attachment = this.byId.get(id);
    if (attachment === undefined) return;
    this.byId.delete(id);
    attachment.laneId = null;
    attachment.cursor = batchEnd;
    if (rest !== null) attachment.writeRaw(rest);
  }

  /** The reader closed every lane (the program exited). */
  clear(): void {
    for (const attachment of this.byId.values()) attachment.laneId = null;
    this.byId.clear();
  }
}
