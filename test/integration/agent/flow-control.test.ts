// A viewer that never reads must neither slow a fast one nor make the agent's memory grow. The
// agent runs as its own process here so that its memory is measured alone.
import { test, describe, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, writeFile, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer } from 'node:net';
import { once } from 'node:events';
import { generateSigningKeyPair } from '../../../core/src/keys/index.js';
import { signAttachToken } from '../../../core/src/keys/attach-token.js';
import { TestClient } from '../../helpers/agent-client.js';

const children: ChildProcess[] = [];
after(() => {
  for (const child of children) child.kill('SIGKILL');
});

async function freePort(): Promise<number> {
  const server = createServer().listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as { port: number };
  server.close();
  return port;
}

async function rssKiB(pid: number): Promise<{ rss: number; peak: number }> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const field = (name: string) => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(status)![1]);
  return { rss: field('VmRSS'), peak: field('VmHWM') };
}

const OUTPUT_BYTES = 200_000_000;
const EARLY_SAMPLE_BYTES = 50_000_000;
// The program prints "R" once echo is off; the test types only after it (else the newline could
// be echoed and shift the counts).
const READY = 'R';

describe('agent flow control', () => {
  test('a viewer that never reads: the fast reader gets every byte, agent memory stays bounded', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'cloudterm-flow-'));
    const keys = await generateSigningKeyPair();
    await writeFile(join(dir, 'pub.pem'), keys.publicKeyPem);
    const port = await freePort();
    const ringBytes = 1024 * 1024;
    const child = spawn(
      process.execPath,
      [
        '--import', 'tsx', 'cli/src/main.ts', 'agent',
        '--listen', `127.0.0.1:${port}`, '--session-id', 'flow', '--public-key-file', join(dir, 'pub.pem'),
        '--ring-bytes', String(ringBytes), '--cwd', dir,
        '--', '/bin/sh', '-c', `stty -echo; printf R; read go; head -c ${OUTPUT_BYTES} /dev/zero | tr '\\0' a; read done`,
      ],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    children.push(child);
    await once(child.stdout!, 'data'); // the "Agent listening" log line
    const url = `ws://127.0.0.1:${port}/attach`;
    const connect = async (role: 'rw' | 'ro', paused = false) =>
      TestClient.connect({
        url,
        paused,
        headers: { authorization: `Bearer ${await signAttachToken(keys.privateKey, { sessionId: 'flow', user: 'u', role })}` },
      });

    const idle = await rssKiB(child.pid!);
    const stalled = await connect('ro', true);
    const fast = await connect('rw');
    const started = Date.now();
    await fast.waitForText(READY);
    fast.type('\r');
    await fast.waitFor(() => fast.received >= EARLY_SAMPLE_BYTES, 'the first 50 MB', 60_000);
    const early = await rssKiB(child.pid!);
    await fast.waitFor(() => fast.received >= READY.length + OUTPUT_BYTES, 'all output', 120_000);
    const seconds = (Date.now() - started) / 1000;
    const late = await rssKiB(child.pid!);

    assert.equal(fast.find('gap'), undefined, 'the fast reader lost nothing');
    assert.equal(fast.output().length, READY.length + OUTPUT_BYTES);
    // Bounded means it does not grow with the output: what the stalled viewer may cost is the
    // ring, its in-flight limit and pooled frames; the rest is garbage V8 collects in its time.
    const earlyMiB = (early.peak - idle.rss) / 1024;
    const lateMiB = (late.peak - idle.rss) / 1024;
    console.log(`agent RSS idle ${(idle.rss / 1024).toFixed(1)} MiB; peak growth ${earlyMiB.toFixed(1)} MiB after 50 MB, ` +
      `${lateMiB.toFixed(1)} MiB after ${OUTPUT_BYTES / 1e6} MB of output; fast reader ${(OUTPUT_BYTES / 1e6 / seconds).toFixed(0)} MB/s`);
    assert.ok(lateMiB - earlyMiB < 16, `memory kept growing with the output: ${earlyMiB.toFixed(1)} → ${lateMiB.toFixed(1)} MiB`);
    assert.ok(lateMiB < 64, `agent memory grew ${lateMiB.toFixed(1)} MiB`);

    // The stalled viewer, once it reads again, is told exactly what it lost and is then current.
    stalled.resumeReading();
    await stalled.waitFor(() => stalled.received >= READY.length + OUTPUT_BYTES, 'stalled viewer catches up', 30_000);
    const gap = stalled.find('gap');
    assert.ok(gap, 'the stalled viewer is told about the bytes it lost');
    assert.equal(stalled.output().length + (gap.to - gap.from), READY.length + OUTPUT_BYTES);
    await stalled.close();
    fast.type('\r');
    await fast.waitForClose();
  });

  test('a single slow reader pauses the program instead of losing output', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'cloudterm-flow-'));
    const keys = await generateSigningKeyPair();
    await writeFile(join(dir, 'pub.pem'), keys.publicKeyPem);
    const port = await freePort();
    const total = 8_000_000;
    const child = spawn(
      process.execPath,
      [
        '--import', 'tsx', 'cli/src/main.ts', 'agent',
        '--listen', `127.0.0.1:${port}`, '--session-id', 'slow', '--public-key-file', join(dir, 'pub.pem'),
        '--ring-bytes', '256Ki', '--cwd', dir,
        '--', '/bin/sh', '-c', `stty -echo; printf R; read go; head -c ${total} /dev/zero | tr '\\0' b; read done`,
      ],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    children.push(child);
    await once(child.stdout!, 'data');
    const token = await signAttachToken(keys.privateKey, { sessionId: 'slow', user: 'u', role: 'rw' });
    const reader = await TestClient.connect({ url: `ws://127.0.0.1:${port}/attach`, headers: { authorization: `Bearer ${token}` } });
    await reader.waitForText(READY);
    reader.type('\r');
    // Read slowly: pause the socket for 50 ms after every 1 MB.
    let nextPause = 1_000_000;
    await reader.waitFor(() => {
      if (reader.received >= nextPause) {
        nextPause += 1_000_000;
        reader.pauseReading();
        setTimeout(() => reader.resumeReading(), 50);
      }
      return reader.received >= READY.length + total;
    }, 'all output', 60_000);
    assert.equal(reader.find('gap'), undefined, 'a lone slow reader loses nothing: the program waited');
    assert.equal(reader.output().length, READY.length + total);
    reader.type('\r');
    await reader.waitForClose();
  });
});
