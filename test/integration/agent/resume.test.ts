// Nothing lost, nothing doubled: a client that reattaches from its offset gets exactly the bytes
// after it; one whose offset fell out of the ring is told exactly how many bytes are gone.
import { test, describe, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { startAgentFixture, type AgentFixture } from '../../helpers/agent-fixture.js';

const fixtures: AgentFixture[] = [];
after(async () => {
  await Promise.all(fixtures.map((f) => f.stop().catch(() => undefined)));
});

// What `seq 1 300000` looks like through a terminal: the tty turns each \n into \r\n.
// The program says "ready" once echo is off: typing before that would echo the newline and
// shift every offset (a race that shows under load).
const expected = Buffer.from(`ready\n${execFileSync('seq', ['1', '300000'], { maxBuffer: 64 * 1024 * 1024 })}`.replace(/\n/g, '\r\n'));
// Waits for a line before printing, so the client is attached before any output; waits again
// after, so the agent is still there to reattach to.
const SEQ_COMMAND = ['-c', "stty -echo; echo ready; read go; seq 1 300000; read done"];

describe('agent resume', () => {
  test('reattaching from the offset reached gives exactly the rest: byte-exact', async () => {
    const agent = await startAgentFixture({ command: '/bin/sh', args: SEQ_COMMAND, ringBytes: 4 * 1024 * 1024 });
    fixtures.push(agent);
    const first = await agent.connect();
    await first.waitForText('ready\r\n');
    first.type('\r');
    await first.waitFor(() => first.received >= expected.length / 2, 'half the output');
    await first.close();
    const firstPart = first.output();
    assert.ok(firstPart.length < expected.length, 'disconnected before the end');

    const second = await agent.connect('rw', { attachAt: first.received });
    await second.waitFor(() => second.received >= expected.length, 'the rest of the output');
    assert.equal(second.firstOffset, first.received, 'resumes exactly where the first stopped');
    assert.equal(second.find('gap'), undefined, 'no gap');
    const whole = Buffer.concat([firstPart, second.output()]);
    assert.equal(whole.length, expected.length, 'no byte lost or doubled');
    assert.ok(whole.equals(expected), 'the concatenation equals seq 1 300000 exactly');
    second.type('\r');
    await second.waitForClose();
  });

  test('an offset older than the ring holds: the loss is reported exactly, then the rest follows', async () => {
    const ringBytes = 64 * 1024;
    const agent = await startAgentFixture({ command: '/bin/sh', args: SEQ_COMMAND, ringBytes });
    fixtures.push(agent);
    const first = await agent.connect();
    await first.waitForText('ready\r\n');
    first.type('\r');
    await first.waitFor(() => first.received >= 100_000, 'some output');
    await first.close();
    const firstPart = first.output();
    // With nobody attached the program runs on to the end, far past the ring.
    const statusUrl = agent.url.replace('ws://', 'http://').replace('/attach', '/status');
    for (let i = 0; i < 100; i += 1) {
      const status = (await (await fetch(statusUrl)).json()) as { offset: number };
      if (status.offset >= expected.length) break;
      await new Promise((r) => setTimeout(r, 50));
    }

    const second = await agent.connect('rw', { attachAt: first.received });
    await second.waitFor(() => second.received >= expected.length, 'the tail');
    const gap = second.find('gap');
    assert.deepEqual(gap, { type: 'gap', from: first.received, to: expected.length - ringBytes });
    assert.equal(second.firstOffset, expected.length - ringBytes);
    // What was received plus what was reported lost accounts for every byte, and the bytes
    // received are the right ones.
    const lost = gap!.to - gap!.from;
    assert.equal(firstPart.length + lost + second.output().length, expected.length);
    assert.ok(firstPart.equals(expected.subarray(0, firstPart.length)));
    assert.ok(second.output().equals(expected.subarray(expected.length - ringBytes)));
    second.type('\r');
    await second.waitForClose();
  });

  test('a new client attaching at the current end sees only new output', async (t) => {
    const agent = await startAgentFixture({ command: '/bin/sh', args: [] });
    fixtures.push(agent);
    const first = await agent.connect();
    t.after(() => first.close());
    first.type('echo BEFORE\r');
    await first.waitForText('BEFORE\r\n');
    await new Promise((r) => setTimeout(r, 100));
    const second = await agent.connect('ro', { attachAt: null });
    t.after(() => second.close());
    second.attach(second.hello!.offset);
    first.type('echo AFTER\r');
    await second.waitForText('AFTER\r\n');
    assert.ok(!second.text().includes('BEFORE'));
  });
});
