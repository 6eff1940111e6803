// Writes a session as an asciicast v2 file (the asciinema format): a JSON header line, then one
// JSON array per event, [seconds since start, "o" | "r", data]. Output is decoded as a UTF-8
// stream so that a character split across two PTY reads is written whole.
import { createWriteStream, type WriteStream } from 'node:fs';
import { once } from 'node:events';

export interface RecorderOptions {
  readonly path: string;
  readonly cols: number;
  readonly rows: number;
  readonly command: string;
  readonly now?: () => number;
}

export class AsciicastRecorder {
  private readonly stream: WriteStream;
  private readonly decoder = new TextDecoder('utf-8');
  private readonly now: () => number;
  private readonly startedAt: number;

  constructor(options: RecorderOptions) {
    this.now = options.now ?? Date.now;
    this.startedAt = this.now();
    this.stream = createWriteStream(options.path, { flags: 'wx', mode: 0o600 });
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
    const seconds = (this.now() - this.startedAt) / 1000;
    this.stream.write(`${JSON.stringify([Number(seconds.toFixed(6)), kind, data])}\n`);
  }

  async close(): Promise<void> {
    const rest = this.decoder.decode();
    if (rest.length > 0) this.event('o', rest);
    this.stream.end();
    await once(this.stream, 'close');
  }
}
