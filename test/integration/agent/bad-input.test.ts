// Bad input from one client: a clear close code or notice for that client; the agent stays up
// and every other attachment keeps working.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { WebSocket } from 'ws';
import { once } from 'node:events';
import { connect } from 'node:net';
import { startAgentFixture, type AgentFixture } from '../../helpers/agent-fixture.js';
import type { TestClient } from '../../helpers/agent-client.js';
import { NoticeCode, encodeAttach, encodeResize } from '../../../core/src/protocol/messages.js';
import { CloseCode } from '../../../core/src/protocol/close-codes.js';

let agent: AgentFixture;
let bystander: TestClient;

before(async () => {
  agent = await startAgentFixture({ command: '/bin/sh', args: [], maxMessageBytes: 64 * 1024, attachTimeoutMs: 500 });
  bystander = await agent.connect('rw');
});

after(async () => {
  await bystander.close();
  await agent.stop();
});

/** The bystander still gets a fresh round trip through the shell. */
async function bystanderUnaffected(): Promise<void> {
  const marker = `ok-${Math.random().toString(36).slice(2, 8)}`;
  bystander.type(`echo ${marker.slice(0, 3)}""${marker.slice(3)}\r`);
  await bystander.waitForText(`${marker}\r\n`);
  assert.equal(bystander.closeCode, null);
}

async function rawSocket(): Promise<WebSocket> {
  const socket = new WebSocket(agent.url, { headers: { authorization: `Bearer ${await agent.token('rw')}` } });
  await once(socket, 'open');
  return socket;
}

async function closeCodeAfter(socket: WebSocket, send: (s: WebSocket) => void): Promise<{ code: number; reason: string }> {
  const closed = once(socket, 'close');
  send(socket);
  const [code, reason] = (await closed) as [number, Buffer];
  return { code, reason: reason.toString() };
}

describe('agent bad input', () => {
  test('a text frame closes that attachment with 1003', async () => {
    const socket = await rawSocket();
    const { code } = await closeCodeAfter(socket, (s) => s.send('hello as text'));
    assert.equal(code, CloseCode.TextFrame.code);
    await bystanderUnaffected();
  });

  test('a malformed message of a known type closes with 4004 and says why', async () => {
    const socket = await rawSocket();
    const { code, reason } = await closeCodeAfter(socket, (s) => s.send(new Uint8Array([0x02, 0x00, 0x50])));
    assert.equal(code, CloseCode.Malformed.code);
    assert.match(reason, /resize is 5 bytes/);
    await bystanderUnaffected();
  });

  test('an empty binary frame is malformed', async () => {
    const socket = await rawSocket();
    const { code } = await closeCodeAfter(socket, (s) => s.send(new Uint8Array(0)));
    assert.equal(code, CloseCode.Malformed.code);
  });

  test('an unknown message type gets a notice and the attachment stays open', async (t) => {
    const client = await agent.connect('rw');
    t.after(() => client.close());
    client.socket.send(new Uint8Array([0x7f, 1, 2, 3]));
    await client.waitFor(() => client.find('notice') !== undefined, 'notice');
    assert.equal(client.find('notice')!.code, NoticeCode.UnknownType);
    client.type('echo still""-here\r');
    await client.waitForText('still-here');
  });

  test('a message over the maximum size closes with 1009', async () => {
    const socket = await rawSocket();
    const { code } = await closeCodeAfter(socket, (s) => s.send(new Uint8Array(64 * 1024 + 10).fill(0x01)));
    assert.equal(code, CloseCode.TooBig.code);
    await bystanderUnaffected();
  });

  for (const [cols, rows, label] of [
    [0, 0, '0x0'],
    [100000, 100000, '100000x100000'],
    [-1, -5, 'negative'],
    [1001, 24, 'one column too many'],
  ] as const) {
    test(`resize to ${label} is refused with a notice; the size is unchanged`, async (t) => {
      const client = await agent.connect('rw');
      t.after(() => client.close());
      const before = client.hello!;
      const frame = new Uint8Array(5);
      const view = new DataView(frame.buffer);
      frame[0] = 0x02;
      // Values that do not fit 16 bits wrap, as a careless client's would.
      view.setUint16(1, cols & 0xffff);
      view.setUint16(3, rows & 0xffff);
      client.socket.send(frame);
      await client.waitFor(() => client.find('notice') !== undefined, 'notice');
      assert.equal(client.find('notice')!.code, NoticeCode.BadResize);
      const status = (await (await fetch(agent.url.replace('ws://', 'http://').replace('/attach', '/status'))).json()) as {
        cols: number;
        rows: number;
      };
      assert.deepEqual([status.cols, status.rows], [before.cols, before.rows]);
    });
  }

  test('a read-only attachment cannot resize', async (t) => {
    const client = await agent.connect('ro');
    t.after(() => client.close());
    client.socket.send(encodeResize(100, 30));
    await client.waitFor(() => client.find('notice') !== undefined, 'notice');
    assert.equal(client.find('notice')!.code, NoticeCode.ReadOnly);
  });

  test('an attach offset in the future closes with 4002', async () => {
    const client = await agent.connect('rw', { attachAt: null });
    client.attach(client.hello!.offset + 1000);
    await client.waitForClose();
    assert.equal(client.closeCode, CloseCode.OffsetOutOfRange.code);
    assert.match(client.closeReason, /beyond the output end/);
  });

  test('a negative attach offset (sent as a signed 64-bit value) closes with 4002', async () => {
    const client = await agent.connect('rw', { attachAt: null });
    const frame = encodeAttach(0);
    new DataView(frame.buffer).setBigInt64(1, -5n);
    client.socket.send(frame);
    await client.waitForClose();
    assert.equal(client.closeCode, CloseCode.OffsetOutOfRange.code);
    await bystanderUnaffected();
  });

  test('a second attach message gets a notice, not a second stream', async (t) => {
    const client = await agent.connect('rw');
    t.after(() => client.close());
    client.attach(0);
    await client.waitFor(() => client.find('notice') !== undefined, 'notice');
    assert.equal(client.find('notice')!.code, NoticeCode.AlreadyAttached);
  });

  test('a client that never sends attach is closed with 4003 after the timeout', async () => {
    const client = await agent.connect('rw', { attachAt: null });
    await client.waitForClose(3000);
    assert.equal(client.closeCode, CloseCode.AttachTimeout.code);
  });

  test('requests its HTTP parser refuses get a JSON error, not a bare status', async () => {
    const httpUrl = agent.url.replace('ws://', 'http://');
    const big = await fetch(httpUrl.replace('/attach', '/status'), { headers: { 'x-big': 'a'.repeat(20_000) } });
    assert.equal(big.status, 431);
    assert.equal(((await big.json()) as { error: { code: string } }).error.code, 'header_too_large');

    const { host, port } = new URL(httpUrl);
    const socket = connect(Number(port), host.replace(/:\d+$/, ''));
    socket.end('NOT HTTP AT ALL\r\n\r\n');
    let answer = '';
    for await (const chunk of socket) answer += (chunk as Buffer).toString();
    assert.match(answer, /^HTTP\/1\.1 400 /);
    assert.equal(JSON.parse(answer.slice(answer.indexOf('\r\n\r\n') + 4)).error.code, 'bad_request');
    await bystanderUnaffected();
  });

  test('thousands of attachments opened and dropped leave the agent serving, with none left over', async () => {
    for (let batch = 0; batch < 20; batch += 1) {
      const sockets = await Promise.all(
        Array.from({ length: 100 }, async () => {
          const socket = new WebSocket(agent.url, { headers: { authorization: `Bearer ${await agent.token('ro')}` } });
          await once(socket, 'open');
          return socket;
        }),
      );
      for (const socket of sockets) socket.terminate();
    }
    await bystanderUnaffected();
    const statusUrl = agent.url.replace('ws://', 'http://').replace('/attach', '/status');
    let attachments = -1;
    for (let i = 0; i < 50 && attachments !== 1; i += 1) {
      attachments = ((await (await fetch(statusUrl)).json()) as { attachments: number }).attachments;
      if (attachments !== 1) await new Promise((r) => setTimeout(r, 100));
    }
    assert.equal(attachments, 1, 'only the bystander is still attached');
  });
});

describe('input faster than the program reads it', () => {
  test('at most ~1 MiB waits; more is refused with a notice, and input flows again once the program reads', async () => {
    // The program ignores its input for a while, then reads everything (raw mode: no line limit).
    const slow = await startAgentFixture({ command: '/bin/sh', args: ['-c', 'stty raw -echo; sleep 2; exec cat >/dev/null'] });
    try {
      const client = await slow.connect('rw');
      await new Promise((resolve) => setTimeout(resolve, 300)); // stty has run
      const half = new Uint8Array(512 * 1024).fill(0x61);
      const notices = () => client.messages.filter((m) => m.type === 'notice' && m.code === NoticeCode.InputRefused);
      for (let i = 0; i < 4; i += 1) client.type(half);
      await client.waitFor(() => notices().length === 1, 'one input_refused notice');
      const notice = notices()[0];
      assert.ok(notice?.type === 'notice' && /input refused: \d+ bytes already wait for the program/.test(notice.message), JSON.stringify(notice));
      assert.ok(slow.agent.session.status().exit === null && client.closeCode === null, 'nothing else happened to anyone');
      // Once the program reads, the backlog drains and input is taken again.
      await new Promise((resolve) => setTimeout(resolve, 2_500));
      client.type(half);
      await new Promise((resolve) => setTimeout(resolve, 300));
      assert.equal(notices().length, 1, 'accepted after the drain');
      assert.equal(slow.agent.session.inputBytes, 4 * half.byteLength, 'three before, one after; the refused one not counted');
    } finally {
      await slow.stop();
    }
  });
});
