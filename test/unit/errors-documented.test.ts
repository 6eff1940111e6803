// Every error code a client can receive is documented, with the status it really has.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { ErrorCodes } from '../../gateway/src/errors.js';
import { CloseCode } from '../../core/src/protocol/close-codes.js';
import { AgentErrorCodes } from '../../agent/src/index.js';

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

/** The `| status | code |` rows of a markdown table; `400 / 408 | \`a\` / \`b\`` pairs them in order. */
function documentedStatuses(doc: string): Map<string, number[]> {
  const found = new Map<string, number[]>();
  for (const line of doc.split('\n')) {
    const cells = line.split('|').map((cell) => cell.trim());
    if (cells.length < 4 || !/^\d{3}( \/ \d{3})*$/.test(cells[1]!)) continue;
    const statuses = cells[1]!.split('/').map((s) => Number(s.trim()));
    const codes = [...cells[2]!.matchAll(/`([a-z_]+)`/g)].map((m) => m[1]!);
    codes.forEach((code, i) => found.set(code, [...(found.get(code) ?? []), statuses.length === 1 ? statuses[0]! : statuses[i]!]));
  }
  return found;
}

test("docs/protocol.md lists every agent error code with its status, and no code the agent does not have", async () => {
  const documented = documentedStatuses(await readFile('docs/protocol.md', 'utf8'));
  for (const [code, { status }] of Object.entries(AgentErrorCodes)) {
    assert.ok(documented.get(code)?.includes(status), `${code} (${status}) is missing from docs/protocol.md`);
  }
  for (const code of documented.keys()) assert.ok(code in AgentErrorCodes, `docs/protocol.md lists ${code}, which the agent's table does not have`);
});
