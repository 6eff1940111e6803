// The detach sequence: what reaches the session and what detaches, typed in one chunk or spread
// over many, and the notation users write it in.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { DetachMatcher, describeDetachKeys, parseDetachKeys } from '../../../client/src/attach/detach-keys.js';
import { ClientError } from '../../../client/src/errors.js';

const bytes = (text: string) => Uint8Array.from(Buffer.from(text, 'latin1'));
const text = (data: Uint8Array) => Buffer.from(data).toString('latin1');

/** Feeds each chunk; what was forwarded in all, and whether (and after which chunk) it detached. */
function typed(chunks: string[], keys = 'ctrl-],d'): { forwarded: string; detachedAt: number } {
  const matcher = new DetachMatcher(parseDetachKeys(keys));
  let forwarded = '';
  for (const [i, chunk] of chunks.entries()) {
    const { forward, detach } = matcher.feed(bytes(chunk));
    forwarded += text(forward);
    if (detach) return { forwarded, detachedAt: i };
  }
  return { forwarded, detachedAt: -1 };
}

describe('detach keys', () => {
  const table: Array<[string, string[], string, number]> = [
    ['plain typing passes through', ['ls -l\r'], 'ls -l\r', -1],
    ['Ctrl-] d detaches, what came before is sent', ['echo hi\x1dd'], 'echo hi', 0],
    ['the sequence split over two reads', ['a\x1d', 'd'], 'a', 1],
    ['Ctrl-] then another key sends both', ['\x1dx'], '\x1dx', -1],
    ['Ctrl-] twice sends one Ctrl-]', ['\x1d\x1d', 'd'], '\x1dd', -1],
    ['a held Ctrl-] waits for the next key', ['\x1d'], '', -1],
    ['d alone is a d', ['dd'], 'dd', -1],
  ];
  for (const [name, chunks, forwarded, detachedAt] of table) {
    test(name, () => assert.deepEqual(typed(chunks), { forwarded, detachedAt }));
  }

  test('a sequence of three: a mismatch part-way sends what was held, and the key that broke it may start a new match', () => {
    assert.deepEqual(typed(['\x10\x11x'], 'ctrl-p,ctrl-q,x'), { forwarded: '', detachedAt: 0 });
    assert.deepEqual(typed(['\x10\x11y'], 'ctrl-p,ctrl-q,x'), { forwarded: '\x10\x11y', detachedAt: -1 });
    assert.deepEqual(typed(['\x10\x11\x10\x11x'], 'ctrl-p,ctrl-q,x'), { forwarded: '\x10\x11', detachedAt: 0 });
    // The first key twice is one literal first key, here as everywhere.
    assert.deepEqual(typed(['\x10\x10\x11x'], 'ctrl-p,ctrl-q,x'), { forwarded: '\x10\x11x', detachedAt: -1 });
  });

  test('"none" never detaches and forwards every byte', () => {
    assert.deepEqual(typed(['\x1dd'], 'none'), { forwarded: '\x1dd', detachedAt: -1 });
  });

  test('the notation: ctrl- keys, characters, and clear refusals', () => {
    assert.deepEqual([...parseDetachKeys('ctrl-],d')], [0x1d, 0x64]);
    assert.deepEqual([...parseDetachKeys('ctrl-P,ctrl-q')], [0x10, 0x11]);
    assert.equal(describeDetachKeys(parseDetachKeys('ctrl-],d')), 'Ctrl-] d');
    for (const bad of ['ctrl-1', 'dd', '', 'ctrl-]]']) {
      assert.throws(() => parseDetachKeys(bad), (error: unknown) => error instanceof ClientError && error.kind === 'usage', bad);
    }
  });
});
