// The splice injects its own close frame only between the agent's frames: the tracker must find
// every boundary exactly, however the bytes are cut into chunks.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FrameBoundaryTracker, closeFrame } from '../../gateway/src/proxy/frame-boundary.js';

function frame(opcode: number, payloadLength: number, masked: boolean): Buffer {
  const lengthBytes = payloadLength < 126 ? 0 : payloadLength < 65_536 ? 2 : 8;
  const header = Buffer.alloc(2 + lengthBytes + (masked ? 4 : 0));
  header[0] = 0x80 | opcode;
  header[1] = (masked ? 0x80 : 0) | (lengthBytes === 0 ? payloadLength : lengthBytes === 2 ? 126 : 127);
  if (lengthBytes === 2) header.writeUInt16BE(payloadLength, 2);
  if (lengthBytes === 8) header.writeBigUInt64BE(BigInt(payloadLength), 2);
  // Payload bytes that look like headers, so a tracker that loses count would misread them.
  return Buffer.concat([header, Buffer.alloc(payloadLength, 0x88)]);
}

const LENGTHS = [0, 1, 125, 126, 127, 300, 65_535, 65_536, 70_000];
const frames = LENGTHS.flatMap((length) => [frame(0x2, length, false), frame(0x2, length, true)]);
const stream = Buffer.concat(frames);
const ends = new Set(frames.reduce<number[]>((acc, f) => [...acc, (acc.at(-1) ?? 0) + f.length], []));

function boundariesSeen(chunkSize: (offset: number) => number): number[] {
  const tracker = new FrameBoundaryTracker();
  const seen: number[] = [];
  let offset = 0;
  while (offset < stream.length) {
    const size = Math.min(chunkSize(offset), stream.length - offset);
    // Walk each chunk frame by frame, as the splice does while closing.
    let chunk = stream.subarray(offset, offset + size);
    while (chunk.length > 0) {
      const used = tracker.feed(chunk, true);
      offset += used;
      chunk = chunk.subarray(used);
      if (tracker.atBoundary) seen.push(offset);
    }
  }
  return seen;
}

test('every frame end is found, whatever the chunking: whole, byte by byte, odd sizes', () => {
  for (const chunkSize of [() => stream.length, () => 1, () => 3, (offset: number) => (offset % 7) + 1, () => 4_096]) {
    assert.deepEqual(boundariesSeen(chunkSize), [...ends]);
  }
});

test('mid-frame is not a boundary; a close frame is seen once it passed', () => {
  const tracker = new FrameBoundaryTracker();
  const data = frame(0x2, 300, false);
  tracker.feed(data.subarray(0, 3));
  assert.equal(tracker.atBoundary, false, 'inside the extended length');
  tracker.feed(data.subarray(3, 100));
  assert.equal(tracker.atBoundary, false, 'inside the payload');
  tracker.feed(data.subarray(100));
  assert.equal(tracker.atBoundary, true);
  assert.equal(tracker.closeSeen, false);

  const close = closeFrame(4000, 'gateway restarting');
  assert.equal(tracker.feed(Buffer.concat([close, frame(0x2, 10, false)]), true), close.length);
  assert.equal(tracker.closeSeen, true);
});

test('a 64-bit length beyond 32 bits is counted exactly', () => {
  const tracker = new FrameBoundaryTracker();
  const header = Buffer.alloc(10);
  header[0] = 0x82;
  header[1] = 127;
  header.writeBigUInt64BE(2n ** 33n + 5n, 2);
  tracker.feed(header);
  tracker.feed(Buffer.alloc(2 ** 20));
  assert.equal(tracker.atBoundary, false);
});

test('closeFrame: code and reason as a browser reads them', () => {
  const close = closeFrame(4000, 'reconnect elsewhere');
  assert.equal(close[0], 0x88);
  assert.equal(close[1], 2 + 'reconnect elsewhere'.length);
  assert.equal(close.readUInt16BE(2), 4000);
  assert.equal(close.subarray(4).toString(), 'reconnect elsewhere');
});
