// answerClientError: what a client whose request Node's parser refused reads back.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { answerClientError } from '../../core/src/net/raw-http.js';

function refusal(code: string): { status: number; errorCode: string; closes: boolean } {
  const socket = new PassThrough();
  let written = '';
  socket.on('data', (chunk: Buffer) => (written += chunk.toString()));
  answerClientError(Object.assign(new Error(code), { code }), socket);
  const [head = '', body = ''] = written.split('\r\n\r\n');
  return { status: Number(head.split(' ')[1]), errorCode: JSON.parse(body).error.code, closes: /\r\nConnection: close$/im.test(head) };
}

test('headers over the limit: 431 header_too_large', () => {
  assert.deepEqual(refusal('HPE_HEADER_OVERFLOW'), { status: 431, errorCode: 'header_too_large', closes: true });
});

test('a request that did not arrive in time: 408 request_timeout', () => {
  assert.deepEqual(refusal('ERR_HTTP_REQUEST_TIMEOUT'), { status: 408, errorCode: 'request_timeout', closes: true });
});

test('anything else the parser refused: 400 bad_request', () => {
  assert.deepEqual(refusal('HPE_INVALID_METHOD'), { status: 400, errorCode: 'bad_request', closes: true });
});

test('a connection the client already reset is closed without an answer', () => {
  const socket = new PassThrough();
  let written = '';
  socket.on('data', (chunk: Buffer) => (written += chunk.toString()));
  answerClientError(Object.assign(new Error('reset'), { code: 'ECONNRESET' }), socket);
  assert.equal(written, '');
  assert.equal(socket.destroyed, true);
});
