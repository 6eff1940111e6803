// The agent reads its PTY in C (agent/native/pty-reader.c) while node-pty starts the program and
// reports its exit, and writes the output of caught-up clients itself (lanes, output-lanes.ts).
// What a user would notice if that were wrong: the first bytes a program prints missing (node-pty's
// own stream reading them first), output out of order, doubled or torn where a client moves between
// the reader's lane and JavaScript, an exit that waits, or output lost at the exit.
import { test, describe, after } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startAgentFixture, type AgentFixture } from '../../helpers/agent-fixture.js';
import type { TestClient } from '../../helpers/agent-client.js';

const fixtures: AgentFixture[] = [];
after(async () => {
  await Promise.all(fixtures.map((f) => f.stop().catch(() => undefined)));
});

async function running(command: string): Promise<AgentFixture> {
  const fixture = await startAgentFixture({ command: '/bin/sh', args: ['-c', command] });
  fixtures.push(fixture);
  return fixture;
}

/** `seq 1 n` as a terminal shows it: each line ended by CR LF (the PTY's onlcr). */
function seqOnTerminal(n: number): string {
  let text = '';
  for (let i = 1; i <= n; i++) text += `${i}\r\n`;
  return text;
}

describe('agent PTY output', () => {
  test('what a program prints before anyone attaches is all there, from its first byte', async (t) => {
    const agent = await running("printf 'FIRST-BYTES\\n'; seq 1 3000; exec sleep 30");
    // Let the program print everything before the first client attaches.
    await new Promise((resolve) => setTimeout(resolve, 300));
    const client = await agent.connect('ro');
    t.after(() => client.close());
    const expected = `FIRST-BYTES\r\n${seqOnTerminal(3000)}`;
    await client.waitFor(() => client.received >= expected.length, 'all the output');
    assert.equal(client.firstOffset, 0);
    assertText(client, expected);
  });

  test('a burst of 3 MB arrives exactly, in order, with nothing doubled', async (t) => {
    const agent = await running('read go; seq 1 400000; exec sleep 30');
    const client = await agent.connect();
    t.after(() => client.close());
    client.type('\r');
    const expected = `\r\n${seqOnTerminal(400_000)}`;
    await client.waitFor(() => client.received >= expected.length, 'the whole burst', 30_000);
    assertText(client, expected);
  });

  test('output printed just before the exit arrives before the exit status', async () => {
    const agent = await running('read go; seq 1 50000; exit 4');
    const client = await agent.connect();
    client.type('\r');
    await client.waitForClose(15_000);
    assert.equal(client.text(), `\r\n${seqOnTerminal(50_000)}`);
    assert.deepEqual(client.find('exit'), { type: 'exit', code: 4, signal: 0 });
    const last = client.messages.at(-1);
    assert.equal(last?.type, 'exit', 'the exit status is the last message');
  });

  test('a program that leaves a background job running ends at once, with its last output', async () => {
    // The job still holds the terminal; the session ends with the program, not with the job.
    const agent = await running("read go; sleep 5 & printf 'bye'; exit 5");
    const client = await agent.connect();
    const started = Date.now();
    client.type('\r');
    await client.waitForClose(10_000);
    assert.ok(Date.now() - started < 2_500, `the exit took ${Date.now() - started} ms`);
    assert.equal(client.text(), '\r\nbye');
    assert.deepEqual(client.find('exit'), { type: 'exit', code: 5, signal: 0 });
  });

  test('a client that stalls mid-burst, then reads again, gets every byte once, in contiguous frames', async (t) => {
    // Caught up, the client is on the reader's lane; stalled, its socket cannot take a frame
    // whole, so it falls back to JavaScript with the rest of that frame, and the program is held
    // (it is the only reader); reading again, it catches up and goes back on a lane. A unix
    // socket holds ~200 KB, so the pause fills it within the burst.
    const socketPath = join(await mkdtemp(join(tmpdir(), 'cloudterm-agent-')), 'agent.sock');
    const agent = await startAgentFixture({ command: '/bin/sh', args: ['-c', 'read go; seq 1 300000; exec sleep 30'], listen: { path: socketPath } });
    fixtures.push(agent);
    const client = await agent.connect('rw', { url: `ws+unix://${socketPath}:/attach` });
    t.after(() => client.close());
    const expected = `\r\n${seqOnTerminal(300_000)}`;
    client.type('\r');
    await client.waitFor(() => client.received > 100_000, 'the burst under way');
    client.pauseReading();
    await new Promise((resolve) => setTimeout(resolve, 400));
    client.resumeReading();
    await client.waitFor(() => client.received >= expected.length, 'the whole burst', 30_000);
    assert.equal(client.find('gap'), undefined, 'nothing was lost');
    assertContiguous(client);
    assertText(client, expected);
  });

  test("ws's own replies (a pong) reach a client on the reader's lane between whole frames", async (t) => {
    const agent = await running('read go; seq 1 200000; exec sleep 30');
    const client = await agent.connect();
    t.after(() => client.close());
    const expected = `\r\n${seqOnTerminal(200_000)}`;
    let pongs = 0;
    client.socket.on('pong', () => (pongs += 1));
    client.type('\r');
    while (client.received < expected.length) {
      client.socket.ping();
      await new Promise((resolve) => setTimeout(resolve, 5));
      if (client.closeCode !== null) break;
    }
    await client.waitFor(() => client.received >= expected.length, 'the whole burst', 30_000);
    assert.ok(pongs > 0, 'pongs arrived');
    assert.equal(client.closeCode, null, 'the stream stayed valid WebSocket');
    assertContiguous(client);
    assertText(client, expected);
  });
  test('clients that attach to a printing program and drop, by the hundred, give back every descriptor', async () => {
    // Each attached client that keeps up is given a lane, which holds a copy of its socket's
    // descriptor: dropping the client must close it, whichever way the connection ends.
    const agent = await running('while :; do echo tick; sleep 0.005; done');
    const openDescriptors = () => readdirSync('/proc/self/fd').length;
    const statusUrl = agent.url.replace('ws://', 'http://').replace('/attach', '/status');
    const attachments = async () => ((await (await fetch(statusUrl)).json()) as { attachments: number }).attachments;
    const before = openDescriptors();
    for (let i = 0; i < 150; i += 1) {
      const client = await agent.connect('ro');
      const seen = client.messages.length;
      await client.waitFor(() => client.messages.length >= seen + 3, 'live output');
      if (i % 2 === 0) await client.close();
      else {
        client.socket.close();
        await client.waitForClose();
      }
    }
    for (let i = 0; i < 50 && (await attachments()) !== 0; i += 1) await new Promise((resolve) => setTimeout(resolve, 100));
    assert.equal(await attachments(), 0);
    const leaked = openDescriptors() - before;
    assert.ok(leaked < 10, `${leaked} more descriptors open after 150 clients came and went`);
  });
});

/** Every output frame starts where the one before ended. */
function assertContiguous(client: TestClient): void {
  let next: number | null = null;
  for (const message of client.messages) {
    if (message.type !== 'output') continue;
    if (next !== null) assert.equal(message.offset, next, `an output frame at ${message.offset} follows one that ended at ${next}`);
    next = message.offset + message.data.byteLength;
  }
}

/** The output is exactly `expected`; a difference is reported by where it starts, not whole (megabytes). */
function assertText(client: TestClient, expected: string): void {
  const text = client.text();
  if (text === expected) return;
  let at = 0;
  while (at < text.length && text[at] === expected[at]) at++;
  assert.fail(`${text.length} characters against ${expected.length}; first difference at ${at}: ${JSON.stringify(text.slice(at, at + 40))} instead of ${JSON.stringify(expected.slice(at, at + 40))}`);
}
