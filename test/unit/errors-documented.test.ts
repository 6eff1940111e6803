// Every error code a client can receive is documented, with the status it really has.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { ErrorCodes } from '../../gateway/src/errors.js';
import { CloseCode } from '../../core/src/protocol/close-codes.js';

test('docs/errors.md lists every gateway error code with its status', async () => {
  const doc = await readFile('docs/errors.md', 'utf8');
  for (const [code, { status }] of Object.entries(ErrorCodes)) {
    assert.match(doc, new RegExp(`\\| \`${code}\` \\| ${status} \\|`), `${code} (${status}) is missing from docs/errors.md`);
  }
});

test('docs/protocol.md lists every WebSocket close code', async () => {
  const doc = await readFile('docs/protocol.md', 'utf8');
  for (const { code } of Object.values(CloseCode)) {
    assert.match(doc, new RegExp(`^\\| ${code} \\|`, 'm'), `close code ${code} is missing from docs/protocol.md`);
  }
});
