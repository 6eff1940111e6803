// The agent reads its PTY in C (gateway/native/pty-reader.c) while node-pty starts the program and
// reports its exit. What a user would notice if that hand-over were wrong: the first bytes a
// program prints missing (node-pty's own stream reading them first), output out of order or
// doubled within a burst, an exit that waits, or output lost at the exit.
import { test, describe, after } from 'node:test';
import assert from 'node:assert/strict';
import { startAgentFixture, type AgentFixture } from '../../helpers/agent-fixture.js';

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
  test('what a program prints before anyone attaches is all there, from its first byte', async () => {
    const agent = await running("printf 'FIRST-BYTES\\n'; seq 1 3000; exec sleep 30");
    // Let the program print everything before the first client attaches.
    await new Promise((resolve) => setTimeout(resolve, 300));
    const client = await agent.connect('ro');
    const expected = `FIRST-BYTES\r\n${seqOnTerminal(3000)}`;
    await client.waitFor(() => client.received >= expected.length, 'all the output');
    assert.equal(client.firstOffset, 0);
    assert.equal(client.text(), expected);
    await client.close();
  });

  test('a burst of 3 MB arrives exactly, in order, with nothing doubled', async () => {
    const agent = await running('read go; seq 1 400000; exec sleep 30');
    const client = await agent.connect();
    client.type('\r');
    const expected = `\r\n${seqOnTerminal(400_000)}`;
    await client.waitFor(() => client.received >= expected.length, 'the whole burst', 30_000);
    assert.equal(client.text(), expected);
    await client.close();
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
});
