// The agent with real PTYs: echo, resize, exit status, several attachments, read-only viewers.
import { test, describe, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startAgentFixture, type AgentFixture } from '../../helpers/agent-fixture.js';
import { NoticeCode } from '../../../core/src/protocol/messages.js';

const fixtures: AgentFixture[] = [];
after(async () => {
  await Promise.all(fixtures.map((f) => f.stop().catch(() => undefined)));
});

async function shell(): Promise<AgentFixture> {
  const fixture = await startAgentFixture({ command: '/bin/sh', args: [] });
  fixtures.push(fixture);
  return fixture;
}

describe('agent terminal', () => {
  test('typed input is echoed by the shell', async (t) => {
    const agent = await shell();
    const client = await agent.connect();
    t.after(() => client.close());
    client.type('echo "hel""lo"\r');
    await client.waitForText('hello\r\n');
  });

  test('hello reports the size, the offsets and the role', async (t) => {
    const agent = await shell();
    const client = await agent.connect('ro');
    t.after(() => client.close());
    const hello = client.hello!;
    assert.equal(hello.role, 'ro');
    assert.equal(hello.cols, 80);
    assert.equal(hello.rows, 24);
    assert.equal(hello.oldest, 0);
    assert.equal(hello.version, 1);
  });

  test('a resize is seen by stty size and announced to every attachment', async (t) => {
    const agent = await shell();
    const writer = await agent.connect('rw');
    t.after(() => writer.close());
    const viewer = await agent.connect('ro');
    t.after(() => viewer.close());
    writer.resize(132, 43);
    await viewer.waitFor(() => viewer.find('resized') !== undefined, 'resized');
    assert.deepEqual(viewer.find('resized'), { type: 'resized', cols: 132, rows: 43 });
    writer.type('stty size\r');
    await writer.waitForText('43 132');
  });

  test('the exit status reaches every attachment, then a normal close, then the agent stops', async () => {
    const agent = await shell();
    const first = await agent.connect('rw');
    const second = await agent.connect('ro');
    first.type('exit 7\r');
    await first.waitForClose();
    await second.waitForClose();
    assert.deepEqual(first.find('exit'), { type: 'exit', code: 7, signal: 0 });
    assert.deepEqual(second.find('exit'), { type: 'exit', code: 7, signal: 0 });
    assert.equal(first.closeCode, 1000);
    assert.equal(second.closeCode, 1000);
    const status = await agent.agent.done;
    assert.equal(status.code, 7);
  });

  test('a program that cannot start ends the agent at once, with its exit status', async () => {
    // The exit comes while the agent is still preparing its unix socket (as in local mode): it
    // must not be missed, or the agent would live on, refusing every attach as ended and
    // ignoring SIGTERM.
    const started = Date.now();
    const socketPath = join(await mkdtemp(join(tmpdir(), 'cloudterm-agent-')), 'agent.sock');
    const fixture = await startAgentFixture({ command: '/no/such/program', args: [], listen: { path: socketPath } });
    fixtures.push(fixture);
    const status = await Promise.race([fixture.agent.done, new Promise<null>((resolve) => setTimeout(() => resolve(null), 5_000))]);
    assert.ok(status, 'the agent stopped by itself');
    assert.notEqual(status.code, 0, 'a failure, not a normal exit');
    assert.ok(Date.now() - started < 5_000);
  });

  test('two viewers see the same bytes; the read-only one cannot type and is told so', async (t) => {
    const agent = await shell();
    const writer = await agent.connect('rw');
    t.after(() => writer.close());
    const viewer = await agent.connect('ro');
    t.after(() => viewer.close());
    viewer.type('echo VIEWER-TYPED\r');
    await viewer.waitFor(() => viewer.find('notice') !== undefined, 'read-only notice');
    assert.equal(viewer.find('notice')!.code, NoticeCode.ReadOnly);
    writer.type('echo WRITER-$((6*7))\r');
    await writer.waitForText('WRITER-42');
    await viewer.waitForText('WRITER-42');
    assert.ok(!writer.text().includes('VIEWER-TYPED'), 'the read-only input must not reach the shell');
    // Same offsets, same bytes: both attached from 0.
    await viewer.waitFor(() => viewer.received === writer.received, 'viewer catches up');
    assert.deepEqual(viewer.output(), writer.output());
  });

  test('bytes that are not valid UTF-8 pass through to the program unchanged', async () => {
    const agent = await startAgentFixture({ command: '/bin/sh', args: ['-c', 'stty raw -echo; printf R; head -c 4 | od -An -tx1'] });
    fixtures.push(agent);
    const client = await agent.connect();
    await client.waitForText('R');
    client.type(new Uint8Array([0xff, 0xfe, 0xc3, 0x28]));
    await client.waitForText('ff fe c3 28');
    await client.waitForClose();
  });

  test('status endpoint reports attachments, offsets and activity', async (t) => {
    const agent = await shell();
    const client = await agent.connect();
    t.after(() => client.close());
    client.type('echo status-check\r');
    await client.waitForText('status-check\r\n');
    const base = agent.url.replace('ws://', 'http://').replace('/attach', '');
    const status = (await (await fetch(`${base}/status`)).json()) as Record<string, unknown>;
    assert.equal(status.sessionId, agent.sessionId);
    assert.equal(status.attachments, 1);
    assert.ok((status.offset as number) >= client.received);
    assert.ok(typeof status.lastInputAt === 'string' && typeof status.lastOutputAt === 'string');
    const metrics = await (await fetch(`${base}/metrics`)).text();
    assert.match(metrics, /cloudterm_agent_attachments 1/);
    assert.match(metrics, /cloudterm_agent_output_bytes_total [1-9]/);
  });
});
