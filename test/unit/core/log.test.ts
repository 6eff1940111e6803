// One createLogger for every part: credentials are redacted whatever a log call is given, and a
// part's child logger says which part wrote the line.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { createLogger } from '../../../core/src/log.js';

function capture(): { stream: Writable; lines: () => Array<Record<string, unknown>> } {
  const chunks: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      chunks.push(chunk.toString());
      callback();
    },
  });
  return { stream, lines: () => chunks.join('').split('\n').filter(Boolean).map((line) => JSON.parse(line) as Record<string, unknown>) };
}

test('passwords, tokens, cookies and Authorization headers never reach the log', () => {
  const { stream, lines } = capture();
  const log = createLogger({ name: 'cloudterm-agent', base: { session: 's1' } }, stream);
  log.info({ password: 'p4ss', token: 'eyJ.a.b', user: { password: 'x', token: 'y' }, req: { headers: { authorization: 'Bearer z', cookie: 'ct=z' } } }, 'hello');
  const [line] = lines();
  const text = JSON.stringify(line);
  for (const secret of ['p4ss', 'eyJ.a.b', '"x"', '"y"', 'Bearer z', 'ct=z']) assert.ok(!text.includes(secret), `${secret} leaked`);
  assert.equal(line!.password, '[redacted]');
  assert.equal(line!.session, 's1');
  assert.equal(line!.name, 'cloudterm-agent');
});

test('a part logs through a child that names it, at the level the configuration set', () => {
  const { stream, lines } = capture();
  const log = createLogger({ name: 'cloudterm-gateway', level: 'warn' }, stream);
  const attach = log.child({ part: 'attach' });
  attach.info('not at warn');
  attach.warn({ token: 'secret' }, 'Upstream failed');
  assert.deepEqual(lines().map((l) => [l.part, l.msg, l.token]), [['attach', 'Upstream failed', '[redacted]']]);
});
