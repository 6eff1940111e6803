// Reading what the user types at a prompt: a line as typed, or a password without echo (the
// terminal in raw mode, restored however the prompt ends). Prompts go to stderr, like ssh's, so
// that stdout carries only a command's output.
import type { ReadStream } from 'node:tty';
import type { Readable, Writable } from 'node:stream';
import { ClientError } from './errors.js';

/** An identity provider's token with many groups runs to several KiB; nothing sane is longer. */
const MAX_LINE_BYTES = 64 * 1024;

export function isTerminal(stream: Readable | Writable): boolean {
  return (stream as ReadStream).isTTY === true;
}

/** The first line of `input` (without its newline); the rest is left in the stream. */
export function readLine(input: Readable): Promise<string> {
  return new Promise((resolve, reject) => {
    let line = '';
    const finish = (error: ClientError | null, value = '') => {
      input.off('data', onData);
      input.off('end', onEnd);
      input.off('error', onEnd);
      input.pause();
      if (error) reject(error);
      else resolve(value);
    };
    const onData = (chunk: Buffer | string) => {
      const text = chunk.toString();
      const newline = text.indexOf('\n');
      if (newline === -1) {
        line += text;
        if (line.length > MAX_LINE_BYTES) finish(new ClientError('usage', `a line over ${MAX_LINE_BYTES} characters`));
        return;
      }
      const rest = text.slice(newline + 1);
      if (rest) input.unshift(Buffer.from(rest));
      finish(null, (line + text.slice(0, newline)).replace(/\r$/, ''));
    };
    const onEnd = () => (line ? finish(null, line) : finish(new ClientError('usage', 'nothing to read on stdin')));
    input.on('data', onData);
    input.once('end', onEnd);
    input.once('error', onEnd);
    input.resume();
  });
}

/** Asks on the terminal, reading the answer as typed (echoed by the terminal itself). */
export async function ask(question: string, input: Readable, output: Writable): Promise<string> {
  output.write(question);
  return readLine(input);
}

/** Asks for a secret on the terminal: nothing is echoed; Ctrl-C or Ctrl-D on an empty line abandons. */
export function askSecret(question: string, input: ReadStream, output: Writable): Promise<string> {
  // Echo off before the question shows: what is typed as soon as it shows is not echoed either.
  const wasRaw = input.isRaw;
  input.setRawMode(true);
  output.write(question);
  return new Promise<string>((resolve, reject) => {
    let secret = '';
    const finish = (error: ClientError | null) => {
      input.off('data', onData);
      input.setRawMode(wasRaw);
      input.pause();
      output.write('\n');
      if (error) reject(error);
      else resolve(secret);
    };
    const onData = (chunk: Buffer) => {
      for (const char of chunk.toString('utf8')) {
        if (char === '\r' || char === '\n') return finish(null);
        if (char === '\u0003' || (char === '\u0004' && secret === '')) return finish(new ClientError('usage', 'abandoned'));
        if (char === '\u007f' || char === '\b') secret = [...secret].slice(0, -1).join('');
        else if (char === '\u0015') secret = '';
        else if (char >= ' ') secret += char;
        if (secret.length > MAX_LINE_BYTES) return finish(new ClientError('usage', `a password over ${MAX_LINE_BYTES} characters`));
      }
    };
    input.on('data', onData);
    input.resume();
  });
}
