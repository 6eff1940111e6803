// Writes a session as an asciicast v2 file (the asciinema format): a JSON header line, then one
// JSON array per event, [seconds since start, "o" | "r", data]. Output is decoded as a UTF-8
// stream so that a character split across two PTY reads is written whole.
import { createWriteStream, openSync, type WriteStream } from 'node:fs';
import { once } from 'node:events';
import { ConfigError, fsProblem } from '../../core/src/config/options.js';

export interface RecorderOptions {
  readonly path: string;
  readonly cols: number;
  readonly rows: number;
  readonly command: string;
  readonly now?: () => number;
  /** A write failed later (a full disk): the recording stops there, the session goes on. */
  readonly onError?: (error: Error) => void;
}

export class AsciicastRecorder {
  private readonly stream: WriteStream;
  private readonly decoder = new TextDecoder('utf-8');
  private readonly now: () => number;
  private readonly startedAt: number;
  private failed = false;

  constructor(options: RecorderOptions) {
    this.now = options.now ?? Date.now;
    this.startedAt = this.now();
    // Opened now, so that a path that cannot be written stops the start, before any program runs.
    let fd: number;
    try {
      fd = openSync(options.path, 'wx', 0o600);
    } catch (error) {
      const why = (error as NodeJS.ErrnoException).code === 'EEXIST' ? 'the file exists (a recording never overwrites one)' : fsProblem(error as NodeJS.ErrnoException, 'its directory does not exist');
      throw new ConfigError([`--record ${options.path}: ${why}`]);
    }
    this.stream = createWriteStream('', { fd });
    this.stream.once('error', (error) => {
      this.failed = true;
      options.onError?.(error);
    });
    const header = {
      version: 2,
      width: options.cols,
      height: options.rows,
      timestamp: Math.floor(this.startedAt / 1000),
      command: options.command,
      env: { TERM: 'xterm-256color' },
    };
    this.stream.write(`${JSON.stringify(header)}\n`);
  }

  output(chunk: Uint8Array): void {
    const text = this.decoder.decode(chunk, { stream: true });
    if (text.length > 0) this.event('o', text);
  }

  resize(cols: number, rows: number): void {
    this.event('r', `${cols}x${rows}`);
  }

  private event(kind: 'o' | 'r', data: string): void {
    if (this.failed) return;
    const seconds = (this.now() - this.startedAt) / 1000;
    this.stream.write(`${JSON.stringify([Number(seconds.toFixed(6)), kind, data])}\n`);
  }

  async close(): Promise<void> {
    const rest = this.decoder.decode();
    if (rest.length > 0) this.event('o', rest);
    if (this.failed) return;
    this.stream.end();
    await once(this.stream, 'close');
  }
}
