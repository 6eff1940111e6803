// The operator's work queue: duplicates merge, a key never runs twice at once, failures back off
// per key and exponentially, concurrency is bounded — on an injected clock.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setImmediate as tick } from 'node:timers/promises';
import { WorkQueue, type ProcessResult } from '../../../operator/src/controller/work-queue.js';
import { FakeClock } from '../../helpers/fake-clock.js';

function queue(clock: FakeClock, concurrency = 2) {
  return new WorkQueue({ concurrency, baseDelayMs: 100, maxDelayMs: 1000, clock });
}

test('a key added many times before it runs runs once', async () => {
  const clock = new FakeClock();
  const q = queue(clock);
  const runs: string[] = [];
  for (const key of ['a', 'b', 'a', 'a', 'b']) q.add(key);
  q.start(async (key) => {
    runs.push(key);
    return { kind: 'done' };
  });
  await q.idle();
  assert.deepEqual(runs, ['a', 'b']);
});

test('a key added while it runs runs again afterwards, never twice at once', async () => {
  const clock = new FakeClock();
  const q = queue(clock, 4);
  let concurrent = 0;
  let maxConcurrent = 0;
  let runs = 0;
  let release!: () => void;
  q.start(async () => {
    runs += 1;
    concurrent += 1;
    maxConcurrent = Math.max(maxConcurrent, concurrent);
    if (runs === 1) await new Promise<void>((resolve) => (release = resolve));
    concurrent -= 1;
    return { kind: 'done' };
  });
  q.add('a');
  await tick();
  q.add('a');
  q.add('a');
  await tick();
  assert.equal(runs, 1);
  release();
  await q.idle();
  assert.equal(runs, 2);
  assert.equal(maxConcurrent, 1);
});

test('at most `concurrency` keys run at once, and the depth counts the waiting ones', async () => {
  const clock = new FakeClock();
  const q = queue(clock, 2);
  const releases: Array<() => void> = [];
  q.start(() => new Promise<ProcessResult>((resolve) => releases.push(() => resolve({ kind: 'done' }))));
  for (const key of ['a', 'b', 'c', 'd', 'e']) q.add(key);
  await tick();
  assert.equal(q.active, 2);
  assert.equal(q.depth, 3);
  while (releases.length > 0) {
    releases.shift()!();
    await tick();
    await tick();
  }
  await q.idle();
  assert.equal(q.depth, 0);
});

test('failures back off exponentially per key up to the maximum, and success resets it', async () => {
  const table: Array<{ failures: number; delay: number }> = [
    { failures: 1, delay: 100 },
    { failures: 2, delay: 200 },
    { failures: 3, delay: 400 },
    { failures: 4, delay: 800 },
    { failures: 5, delay: 1000 },
    { failures: 9, delay: 1000 },
  ];
  for (const { failures, delay } of table) assert.equal(queue(new FakeClock()).backoffMs(failures), delay, `after ${failures} failures`);

  const clock = new FakeClock();
  const q = queue(clock);
  const times: number[] = [];
  let failing = 3;
  q.start(async () => {
    times.push(clock.now());
    if (failing > 0) {
      failing -= 1;
      return { kind: 'retry', error: new Error('conflict') };
    }
    return { kind: 'done' };
  });
  const start = clock.now();
  q.add('a');
  for (let i = 0; i < 20; i += 1) {
    await tick();
    clock.advance(50);
  }
  await q.idle();
  assert.deepEqual(times.map((t) => t - start), [0, 100, 300, 700]);
  // Success forgot the failures: the next failure waits the base delay again.
  failing = 1;
  const again = clock.now();
  q.add('a');
  for (let i = 0; i < 6; i += 1) {
    await tick();
    clock.advance(50);
  }
  assert.deepEqual(times.slice(4).map((t) => t - again), [0, 100]);
});

test('a key that keeps changing while it fails still waits out its backoff (no hot loop)', async () => {
  const clock = new FakeClock();
  const q = queue(clock);
  let runs = 0;
  q.start(async () => {
    runs += 1;
    q.add('a'); // its own status write comes back as an event
    return { kind: 'retry', error: new Error('forbidden') };
  });
  q.add('a');
  for (let i = 0; i < 20; i += 1) await tick();
  assert.equal(runs, 1);
  clock.advance(100);
  for (let i = 0; i < 20; i += 1) await tick();
  assert.equal(runs, 2);
});

test('"after" brings a key back at its time; an earlier add runs it sooner and once', async () => {
  const clock = new FakeClock();
  const q = queue(clock);
  const times: number[] = [];
  const start = clock.now();
  q.start(async () => {
    times.push(clock.now() - start);
    return times.length === 1 ? { kind: 'after', delayMs: 5000 } : { kind: 'done' };
  });
  q.add('a');
  await tick();
  clock.advance(2000);
  q.add('a');
  await tick();
  clock.advance(10_000);
  await tick();
  assert.deepEqual(times, [0, 2000]);
  assert.equal(clock.pending, 0);
});

test('shutdown waits for the running key and drops the rest', async () => {
  const clock = new FakeClock();
  const q = queue(clock, 1);
  const runs: string[] = [];
  let release!: () => void;
  q.start(async (key) => {
    runs.push(key);
    await new Promise<void>((resolve) => (release = resolve));
    return { kind: 'done' };
  });
  q.add('a');
  q.add('b');
  await tick();
  const done = q.shutdown();
  release();
  await done;
  q.add('c');
  await tick();
  assert.deepEqual(runs, ['a']);
});
