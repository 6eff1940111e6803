// The user's own terminal while attached: raw mode on, keystrokes in, output out with backpressure,
// size changes (SIGWINCH, which Node turns into stdout's 'resize'), and one-line notices that never
// split an escape sequence. restore() puts everything back and is safe to call more than once;
// Node itself restores the terminal's modes when the process dies of a crash or a signal.
import { spawnSync } from 'node:child_process';
import type { ReadStream, WriteStream } from 'node:tty';
import type { CommandIo } from '../../../core/src/command.js';
import { isTerminal } from '../prompt.js';

const NOTICE_PREFIX = '[cloudterm]';

export class LocalTerminal {
  private readonly stdin: ReadStream;
  private readonly stdout: WriteStream;
  private readonly interactive: boolean;
  private readonly sized: boolean;
  private raw = false;
  /** A notice line waits to be finished (the reconnect notice ends with "resumed"). */
  private lineOpen = false;
  private readonly cleanups: Array<() => void> = [];

  constructor(private readonly io: CommandIo) {
    this.stdin = io.stdin as ReadStream;
    this.stdout = io.stdout as WriteStream;
    this.interactive = isTerminal(io.stdin);
    this.sized = isTerminal(io.stdout);
  }

  /** Keys go to the session as typed: no echo, no line editing, no signals from Ctrl-C. */
  enterRaw(): void {
    if (!this.interactive || this.raw) return;
    this.stdin.setRawMode(true);
    this.raw = true;
    // libuv's raw mode keeps output processing (a "\n" printed as "\r\n"), which breaks every
    // full-screen program that moves the cursor down with a bare linefeed: turn it off, as
    // cfmakeraw() does for ssh. setRawMode(false) puts back the settings found before raw mode,
    // this one included.
    spawnSync('stty', ['-opost'], { stdio: [(this.stdin as ReadStream & { fd: number }).fd, 'ignore', 'ignore'] });
  }

  size(): { cols: number; rows: number } | null {
    if (!this.sized || !this.stdout.columns || !this.stdout.rows) return null;
    return { cols: this.stdout.columns, rows: this.stdout.rows };
  }

  onResize(listener: (cols: number, rows: number) => void): void {
    if (!this.sized) return;
    const onResize = () => {
      const size = this.size();
      if (size) listener(size.cols, size.rows);
    };
    this.stdout.on('resize', onResize);
    this.cleanups.push(() => this.stdout.off('resize', onResize));
  }

  onInput(listener: (bytes: Uint8Array) => void): void {
    const onData = (chunk: Buffer) => listener(chunk);
    this.stdin.on('data', onData);
    this.stdin.resume();
    this.cleanups.push(() => this.stdin.off('data', onData));
  }

  /** Stops reading stdin (a pipe's bytes wait in it rather than be dropped while disconnected). */
  pauseInput(): void {
    this.stdin.pause();
  }

  resumeInput(): void {
    this.stdin.resume();
  }

  /** Writes the session's output; false when stdout is full (call onDrain). */
  write(data: Uint8Array): boolean {
    return this.stdout.write(data);
  }

  onDrain(listener: () => void): void {
    this.stdout.once('drain', listener);
  }

  /**
   * A line of the client's own. On a terminal it goes through stdout, after the output before
   * it; when stdout is a file or a pipe it goes to stderr, so that stdout stays the session's bytes.
   */
  notice(text: string, { open = false } = {}): void {
    this.finishLine('');
    if (this.sized) this.stdout.write(`\r\n${NOTICE_PREFIX} ${text}${open ? '' : '\r\n'}`);
    else this.io.stderr.write(`${NOTICE_PREFIX} ${text}${open ? '' : '\n'}`);
    this.lineOpen = open;
  }

  /** Ends an open notice line with `text`. */
  finishLine(text: string): void {
    if (!this.lineOpen) return;
    this.lineOpen = false;
    if (this.sized) this.stdout.write(`${text}\r\n`);
    else this.io.stderr.write(`${text}\n`);
  }

  restore(): void {
    this.finishLine('');
    for (const cleanup of this.cleanups.splice(0)) cleanup();
    if (this.raw) {
      this.stdin.setRawMode(false);
      this.raw = false;
    }
    // A stdin left flowing would keep the process alive after the command returns.
    this.stdin.pause();
  }
}
