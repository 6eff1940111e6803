// Every error code a client can receive is documented, with the status it really has.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { ErrorCodes } from '../../gateway/src/errors.js';
import { CloseCode } from '../../gateway/src/protocol/close-codes.js';

test('docs/errors.md lists every gateway error code with its status', async () => {
  const doc = await readFile('docs/errors.md', 'utf8');
  for (const [code, { status }] of Object.entries(ErrorCodes)) {
    assert.match(doc, new RegExp(`\\| \`${code}\` \\| ${status} \\|`), `${code} (${status}) is missing from docs/errors.md`);
  }
});

test('docs/errors.md documents no code the gateway does not have, nor one twice', async () => {
  const doc = await readFile('docs/errors.md', 'utf8');
  const documented = [...doc.matchAll(/^\| `([a-z_]+)` \| (\d{3}) \|/gm)].map((match) => match[1]!);
  assert.deepEqual(documented.filter((code) => !(code in ErrorCodes)), [], 'codes in docs/errors.md that gateway/src/errors.ts lacks');
  assert.equal(new Set(documented).size, documented.length, 'a code is listed twice');
});

test('docs/protocol.md lists every WebSocket close code', async () => {
  const doc = await readFile('docs/protocol.md', 'utf8');
  for (const { code } of Object.values(CloseCode)) {
    assert.match(doc, new RegExp(`^\\| ${code} \\|`, 'm'), `close code ${code} is missing from docs/protocol.md`);
  }
});
