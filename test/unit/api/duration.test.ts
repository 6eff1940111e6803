// Spec durations (`30m`, `1h30m`) and when a session expires: what the operator acts on and the
// gateway shows.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DURATION_PATTERN, DurationError, expiryOf, formatDuration, parseDuration } from '../../../operator/src/api/index.js';

test('parseDuration reads hours, minutes and seconds', () => {
  assert.equal(parseDuration('30m'), 30 * 60_000);
  assert.equal(parseDuration('1h30m'), 90 * 60_000);
  assert.equal(parseDuration('8h'), 8 * 3_600_000);
  assert.equal(parseDuration('90s'), 90_000);
  assert.equal(parseDuration('1h0m5s'), 3_605_000);
  assert.equal(parseDuration('0s'), 0);
});

test('parseDuration refuses what the CRD pattern refuses, with a message that shows the value', () => {
  for (const bad of ['', '-5m', '1.5h', '30', '5d', '30m1h', '1H', ' 30m', '100ms', '9'.repeat(30) + 'h']) {
    assert.throws(() => parseDuration(bad), (error: unknown) => error instanceof DurationError && error.message.includes(JSON.stringify(bad)), bad);
    if (bad.length < 30) assert.equal(new RegExp(DURATION_PATTERN).test(bad) && bad !== '', false, `the CRD pattern refuses ${bad}`);
  }
  assert.throws(() => parseDuration(30 as unknown as string), DurationError);
});

test('formatDuration writes the shortest spelling parseDuration reads back', () => {
  for (const [ms, text] of [[0, '0s'], [90_000, '1m30s'], [3_600_000, '1h'], [30 * 3_600_000 + 1000, '30h1s']] as const) {
    assert.equal(formatDuration(ms), text);
    assert.equal(parseDuration(text), ms);
  }
  assert.throws(() => formatDuration(1500), RangeError);
  assert.throws(() => formatDuration(-1000), RangeError);
});

test('expiryOf: idle timeout slides with activity, the maximum lifetime does not', () => {
  const spec = { idleTimeout: '30m', maxLifetime: '1h' };
  const start = Date.UTC(2026, 0, 1);
  assert.deepEqual(expiryOf(spec, start), { at: start + 30 * 60_000, reason: 'IdleTimeout' });
  assert.deepEqual(expiryOf(spec, start, start + 20 * 60_000), { at: start + 50 * 60_000, reason: 'IdleTimeout' });
  assert.deepEqual(expiryOf(spec, start, start + 45 * 60_000), { at: start + 60 * 60_000, reason: 'MaxLifetime' });
  assert.deepEqual(expiryOf({ idleTimeout: '1h', maxLifetime: '1h' }, start), { at: start + 3_600_000, reason: 'MaxLifetime' }, 'a tie is the hard cap');
  assert.deepEqual(expiryOf(spec, start, start - 5000), { at: start + 30 * 60_000, reason: 'IdleTimeout' }, 'activity before the start counts as the start');
});
