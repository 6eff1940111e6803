// What a client is told of a failure, on the API and the attach route alike: a session store that
// did not answer in time is 503 store_unavailable, which the page and `cloudterm attach` retry;
// before, the attach route answered it 500 internal, and the clients gave up on the terminal
// (seen at 12,000 attachments on 12 replicas of a loaded machine: Redis replies later than the
// 1 s command timeout, docs/benchmarks.md "Gateway replicas at scale").
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { HttpError, clientError } from '../../gateway/src/errors.js';
import { StoreUnavailableError } from '../../gateway/src/store/types.js';

test('a store that did not answer is 503 store_unavailable; an HttpError stays itself; anything else is 500 and unexpected', () => {
  const unavailable = clientError(new StoreUnavailableError('Redis is unavailable (get: Command timed out)'));
  assert.deepEqual([unavailable.error.status, unavailable.error.code, unavailable.unexpected], [503, 'store_unavailable', false]);
  const known = new HttpError('session_not_found');
  assert.equal(clientError(known).error, known);
  const bug = clientError(new TypeError('x is undefined'));
  assert.deepEqual([bug.error.status, bug.error.code, bug.unexpected], [500, 'internal', true]);
});
