// The terminal protocol's decoders on random and mutated input (seeded: the seed is printed and
// FUZZ_SEED replays it): each answer is a message of a known type, null for an unknown type, or
// a ProtocolError — never another exception — and a message that decodes re-encodes to itself.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  ProtocolError,
  decodeAgentMessage,
  decodeClientMessage,
  encodeAck,
  encodeAttach,
  encodeExit,
  encodeGap,
  encodeHello,
  encodeInput,
  encodeNotice,
  encodeOutput,
  encodeResize,
  encodeResized,
  NoticeCode,
} from '../../core/src/protocol/messages.js';
import { SeededRandom } from '../helpers/seeded-random.js';

const ITERATIONS = 20_000;

function decodesOrRefuses(decode: (bytes: Uint8Array) => unknown, bytes: Buffer, seed: number): unknown {
  try {
    return decode(bytes);
  } catch (error) {
    assert.ok(error instanceof ProtocolError, `seed ${seed}: ${bytes.toString('hex')} threw ${String(error)}`);
    return undefined;
  }
}

test(`the client-message decoder (what the agent reads from anyone), ${ITERATIONS} random and mutated messages`, () => {
  const random = SeededRandom.fromEnvironment('client decoder fuzz');
  const valid = [encodeInput(Buffer.from('ls\r')), encodeResize(80, 24), encodeAttach(0), encodeAck(123_456), encodeAttach(2 ** 60)].map((m) => Buffer.from(m));
  const types = new Set(['input', 'resize', 'attach', 'ack']);
  for (let i = 0; i < ITERATIONS; i++) {
    const bytes = i % 2 === 0 ? random.mutate(random.pick(valid)) : random.bytes(random.int(24));
    const message = decodesOrRefuses(decodeClientMessage, bytes, random.seed) as { type: string; offset?: number } | null | undefined;
    if (message === undefined || message === null) continue;
    assert.ok(types.has(message.type), `seed ${random.seed}: type ${message.type}`);
    if (message.type === 'resize') assert.deepEqual(Buffer.from(encodeResize((message as any).cols, (message as any).rows)), bytes);
    if (message.type === 'input') assert.deepEqual(Buffer.from(encodeInput((message as any).data)), bytes);
    // Offsets at or past 2^53 read as Infinity (refused by the agent as out of range), never wrong.
    if (message.offset !== undefined) assert.ok(message.offset >= 0 && (Number.isSafeInteger(message.offset) || message.offset === Infinity));
  }
});

test(`the agent-message decoder (what clients read), ${ITERATIONS} random and mutated messages`, () => {
  const random = SeededRandom.fromEnvironment('agent decoder fuzz');
  const valid = [
    encodeHello({ role: 'rw', cols: 80, rows: 24, offset: 10, oldest: 0 }),
    encodeOutput(42, Buffer.from('hello')),
    encodeGap(1, 99),
    encodeResized(100, 30),
    encodeExit(0, 0),
    encodeNotice(NoticeCode.ReadOnly, 'read-only'),
  ].map((m) => Buffer.from(m));
  for (let i = 0; i < ITERATIONS; i++) {
    const bytes = i % 2 === 0 ? random.mutate(random.pick(valid)) : random.bytes(random.int(40));
    decodesOrRefuses(decodeAgentMessage, bytes, random.seed);
  }
});
