// The detach key sequence (default Ctrl-] then d, as telnet's and ssh's escapes): typed bytes pass
// through to the session until the sequence's first key; what follows it either completes the
// sequence (detach) or is passed on with it. The first key twice sends it once, so that a program
// can still be given a Ctrl-].
import { ClientError } from '../errors.js';

export const DEFAULT_DETACH_KEYS = 'ctrl-],d';

/**
 * Parses docker's notation: keys separated by commas, each a single character or `ctrl-X`
 * (X one of a-z @ [ \ ] ^ _); `none` disables detaching.
 */
export function parseDetachKeys(text: string): Uint8Array {
  if (text === 'none') return new Uint8Array(0);
  const keys = text.split(',').map((key) => {
    const ctrl = /^ctrl-(.)$/i.exec(key);
    if (ctrl) {
      const code = ctrl[1]!.toUpperCase().charCodeAt(0);
      if (code >= 0x40 && code <= 0x5f) return code - 0x40;
    } else if (key.length === 1 && key.charCodeAt(0) >= 0x20 && key.charCodeAt(0) < 0x7f) {
      return key.charCodeAt(0);
    }
    throw new ClientError('usage', `--detach-keys "${text}": "${key}" is not a key (a character, or ctrl- and one of a-z @ [ \\ ] ^ _), and "none" disables detaching`);
  });
  return Uint8Array.from(keys);
}

/** Human words for a sequence: `Ctrl-] d`. */
export function describeDetachKeys(sequence: Uint8Array): string {
  return [...sequence].map((key) => (key < 0x20 ? `Ctrl-${String.fromCharCode(key + 0x40)}` : String.fromCharCode(key))).join(' ');
}

export interface Keystrokes {
  /** The bytes to send to the session. */
  readonly forward: Uint8Array;
  readonly detach: boolean;
}

export class DetachMatcher {
  /** How much of the sequence has been typed and held back. */
  private matched = 0;

  constructor(private readonly sequence: Uint8Array) {}

  feed(chunk: Uint8Array): Keystrokes {
    // The common case, a keystroke with no part of the sequence in it: passed on as it came.
    if (this.sequence.length === 0 || (this.matched === 0 && !chunk.includes(this.sequence[0]!))) return { forward: chunk, detach: false };
    const forward: number[] = [];
    for (const byte of chunk) {
      if (byte === this.sequence[this.matched]) {
        this.matched += 1;
        if (this.matched === this.sequence.length) {
          this.matched = 0;
          return { forward: Uint8Array.from(forward), detach: true };
        }
        continue;
      }
      if (this.matched === 1 && byte === this.sequence[0]) {
        // The first key twice: one of it, literally.
        forward.push(byte);
        this.matched = 0;
        continue;
      }
      for (let i = 0; i < this.matched; i += 1) forward.push(this.sequence[i]!);
      this.matched = 0;
      if (byte === this.sequence[0]) this.matched = 1;
      else forward.push(byte);
    }
    return { forward: Uint8Array.from(forward), detach: false };
  }
}
