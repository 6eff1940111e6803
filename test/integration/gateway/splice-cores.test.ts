// The proxy core's two splices — the JavaScript one (net.Socket) and the native one (C, on the
// descriptors) — pass one suite on real loopback sockets: bytes byte-exact both ways, backpressure,
// our close frames only at frame boundaries, and every way an attachment ends.
import { describe, test, before, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { readdirSync } from 'node:fs';
import { createServer, connect, type Server, type Socket } from 'node:net';
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { closeFrame, loadNativeSplice, makeSplice, type ProxyCore, type SpliceEnd, type Spliced } from '../../../gateway/src/proxy/index.js';
import { CloseCode } from '../../../core/src/protocol/close-codes.js';

const RESPONSE_HEAD = Buffer.from('HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n');

/** An unmasked frame, as the agent sends: binary unless told. */
function frame(payload: Buffer, opcode = 0x2): Buffer {
  const length = payload.length;
  const lengthBytes = length < 126 ? 0 : length < 65_536 ? 2 : 8;
  const header = Buffer.alloc(2 + lengthBytes);
  header[0] = 0x80 | opcode;
  header[1] = lengthBytes === 0 ? length : lengthBytes === 2 ? 126 : 127;
  if (lengthBytes === 2) header.writeUInt16BE(length, 2);
  if (lengthBytes === 8) header.writeBigUInt64BE(BigInt(length), 2);
  return Buffer.concat([header, payload]);
}

/** Everything a socket receives, until it ends or closes. */
function collect(socket: Socket): { bytes: () => Buffer; ended: Promise<void> } {
  const chunks: Buffer[] = [];
  socket.on('data', (chunk: Buffer) => chunks.push(chunk));
  socket.on('error', () => undefined);
  const ended = new Promise<void>((resolve) => {
    socket.once('end', resolve);
    socket.once('close', resolve);
  });
  return { bytes: () => Buffer.concat(chunks), ended };
}

async function listening(server: Server): Promise<number> {
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return (server.address() as { port: number }).port;
}

function openDescriptors(): number {
  return readdirSync('/proc/self/fd').length;
}

interface Rig {
  readonly splice: Spliced;
  /** The browser's end of its connection (what a browser reads and writes). */
  readonly browser: Socket;
  /** The agent's end of the upstream connection. */
  readonly agent: Socket;
  readonly ends: SpliceEnd[];
  readonly ended: Promise<SpliceEnd>;
  readonly stop: () => Promise<void>;
}

/**
 * Backpressure: of `total` bytes sent by one side while the other does not read, the splice takes
 * what kernel buffers on both hops hold (some megabytes) and then nothing more; `taken` counts it.
 */
async function stopsTaking(taken: () => number, total: number, sender: string): Promise<void> {
  await sleep(500);
  const before = taken();
  await sleep(300);
  assert.ok(before < total / 2, `the splice took ${before} of ${total} bytes from the ${sender}, and then stopped`);
  assert.equal(taken(), before, `it took nothing more from the ${sender} while the other side did not read`);
}

/** Rigs of the running test, stopped after it whatever its outcome. */
const running: Rig[] = [];

async function rig(core: ProxyCore, fromAgent: Buffer = Buffer.alloc(0), fromBrowser: Buffer = Buffer.alloc(0)): Promise<Rig> {
  // Node's HTTP server hands the attach route half-open-capable sockets: so does this one.
  const browserServer = createServer({ allowHalfOpen: true });
  const agentServer = createServer({ allowHalfOpen: true });
  const [browserPort, agentPort] = await Promise.all([listening(browserServer), listening(agentServer)]);
  const browser = connect(browserPort, '127.0.0.1');
  const [[gatewayBrowserSide]] = await Promise.all([once(browserServer, 'connection'), once(browser, 'connect')]);
  const gatewayAgentSide = connect({ port: agentPort, host: '127.0.0.1', allowHalfOpen: true });
  const [[agent]] = await Promise.all([once(agentServer, 'connection'), once(gatewayAgentSide, 'connect')]);
  // The splice may let the agent's side go while the agent still writes: a reset, as expected.
  (agent as Socket).on('error', () => undefined);
  const ends: SpliceEnd[] = [];
  let resolveEnded: (how: SpliceEnd) => void = () => undefined;
  const ended = new Promise<SpliceEnd>((resolve) => (resolveEnded = resolve));
  const splice = makeSplice(core, gatewayBrowserSide as Socket, gatewayAgentSide, (_, how) => {
    ends.push(how);
    resolveEnded(how);
  });
  splice.start(RESPONSE_HEAD, fromAgent, fromBrowser);
  const made: Rig = {
    splice,
    browser,
    agent: agent as Socket,
    ends,
    ended,
    stop: async () => {
      browser.destroy();
      (agent as Socket).destroy();
      browserServer.close();
      agentServer.close();
    },
  };
  running.push(made);
  return made;
}

for (const core of ['js', 'native'] as const) {
  describe(`the ${core} splice`, () => {
    afterEach(async () => {
      for (const r of running.splice(0)) await r.stop();
    });
    before(() => {
      if (core === 'native') assert.equal(loadNativeSplice(), null, 'the native splice is built (npm ci)');
    });

    test('the 101 first, then the bytes that came with it, then both ways byte-exact, and counted', async () => {
      const early = frame(Buffer.from('hello'));
      const r = await rig(core, early, Buffer.from('typed early'));
      const atBrowser = collect(r.browser);
      const atAgent = collect(r.agent);
      const down = Buffer.concat(Array.from({ length: 40 }, (_, i) => frame(randomBytes(1 + i * 997))));
      const up = randomBytes(300_000);
      r.agent.write(down);
      r.browser.write(up);
      const want = Buffer.concat([RESPONSE_HEAD, early, down]);
      while (atBrowser.bytes().length < want.length || atAgent.bytes().length < up.length + 11) await sleep(10);
      assert.ok(atBrowser.bytes().equals(want), 'the browser got the 101, then every frame, byte-exact');
      assert.ok(atAgent.bytes().equals(Buffer.concat([Buffer.from('typed early'), up])), 'the agent got every byte typed');
      assert.equal(r.splice.bytesDown, early.length + down.length, 'bytes down counted (the 101 is not traffic)');
      assert.equal(r.splice.bytesUp, 11 + up.length);
      assert.deepEqual(r.ends, []);
    });

    test('a browser that does not read: the agent is no longer read, and nothing is lost once it reads', async () => {
      const r = await rig(core);
      r.browser.pause();
      const down = Buffer.concat(Array.from({ length: 64 }, () => frame(randomBytes(1 << 20))));
      r.agent.write(down);
      await stopsTaking(() => r.splice.bytesDown, down.length, 'agent');
      const atBrowser = collect(r.browser);
      r.browser.resume();
      const want = Buffer.concat([RESPONSE_HEAD, down]);
      while (atBrowser.bytes().length < want.length) await sleep(20);
      assert.ok(atBrowser.bytes().equals(want), 'every byte arrived, in order, once the browser read');
    });

    test('an agent that does not read: the browser is no longer read, and nothing is lost once it reads', async () => {
      const r = await rig(core);
      r.agent.pause();
      r.browser.on('error', () => undefined);
      const up = randomBytes(64 << 20);
      r.browser.write(up);
      await stopsTaking(() => r.splice.bytesUp, up.length, 'browser');
      const atAgent = collect(r.agent);
      r.agent.resume();
      while (atAgent.bytes().length < up.length) await sleep(20);
      assert.ok(atAgent.bytes().equals(up), 'every byte arrived, in order, once the agent read');
    });

    test('close between frames: the browser gets our close frame, then the end; the agent is let go', async () => {
      const r = await rig(core);
      const atBrowser = collect(r.browser);
      const atAgent = collect(r.agent);
      const first = frame(Buffer.from('before'));
      r.agent.write(first);
      while (atBrowser.bytes().length < RESPONSE_HEAD.length + first.length) await sleep(5);
      r.splice.close(CloseCode.GatewayRestart.code, CloseCode.GatewayRestart.reason);
      assert.equal(await r.ended, 'restart');
      await Promise.all([atBrowser.ended, atAgent.ended]);
      const want = Buffer.concat([RESPONSE_HEAD, first, closeFrame(CloseCode.GatewayRestart.code, CloseCode.GatewayRestart.reason)]);
      assert.ok(atBrowser.bytes().equals(want), 'the close frame follows the last whole frame');
    });

    test('close in the middle of a frame: the frame ends first, and nothing after it passes', async () => {
      const r = await rig(core);
      const atBrowser = collect(r.browser);
      const cut = frame(randomBytes(10_000));
      r.agent.write(cut.subarray(0, 4_000));
      while (atBrowser.bytes().length < RESPONSE_HEAD.length + 4_000) await sleep(5);
      r.splice.close(CloseCode.GatewayRestart.code, CloseCode.GatewayRestart.reason);
      await sleep(50);
      assert.deepEqual(r.ends, [], 'it waits for the frame in progress');
      r.agent.write(Buffer.concat([cut.subarray(4_000), frame(Buffer.from('after the close'))]));
      assert.equal(await r.ended, 'restart');
      await atBrowser.ended;
      const want = Buffer.concat([RESPONSE_HEAD, cut, closeFrame(CloseCode.GatewayRestart.code, CloseCode.GatewayRestart.reason)]);
      assert.ok(atBrowser.bytes().equals(want), 'the whole frame, then our close frame, and not the next frame');
    });

    test('close at any point of a stream of frames of every length: the browser gets whole frames, then our close', async () => {
      // Payloads of every length encoding (7-bit, 16-bit, 64-bit), pings among them, and bytes
      // that look like frame headers, so that a splice that loses count would cut elsewhere.
      const frames = [0, 1, 125, 126, 127, 300, 65_535, 65_536, 70_000].flatMap((length) => [
        frame(Buffer.alloc(length, 0x88)),
        frame(Buffer.from('ping'), 0x9),
      ]);
      const stream = Buffer.concat(frames);
      const boundaries = new Set(frames.reduce<number[]>((ends, f) => [...ends, (ends.at(-1) ?? 0) + f.length], [0]));
      const ourClose = closeFrame(CloseCode.GatewayRestart.code, CloseCode.GatewayRestart.reason);
      for (let round = 0; round < 12; round += 1) {
        const r = await rig(core);
        const atBrowser = collect(r.browser);
        const cut = 1 + Math.floor(Math.random() * (stream.length - 1));
        r.agent.write(stream.subarray(0, cut));
        while (atBrowser.bytes().length < RESPONSE_HEAD.length + cut) await sleep(2);
        r.splice.close(CloseCode.GatewayRestart.code, CloseCode.GatewayRestart.reason);
        r.agent.write(stream.subarray(cut));
        assert.equal(await r.ended, 'restart');
        await atBrowser.ended;
        const got = atBrowser.bytes().subarray(RESPONSE_HEAD.length);
        const frameBytes = got.length - ourClose.length;
        assert.ok(got.subarray(frameBytes).equals(ourClose), `cut at ${cut}: our close frame comes last`);
        assert.ok(boundaries.has(frameBytes) && frameBytes >= cut, `cut at ${cut}: the close followed a whole frame (at ${frameBytes})`);
        assert.ok(got.subarray(0, frameBytes).equals(stream.subarray(0, frameBytes)), `cut at ${cut}: the frames before it are intact`);
        await r.stop();
      }
    });

    test('close in the middle of a frame that never ends: both sides are cut after the grace', async () => {
      const r = await rig(core);
      const atBrowser = collect(r.browser);
      r.agent.write(frame(randomBytes(10_000)).subarray(0, 100));
      while (atBrowser.bytes().length < RESPONSE_HEAD.length + 100) await sleep(5);
      const started = Date.now();
      r.splice.close(CloseCode.GatewayRestart.code, CloseCode.GatewayRestart.reason);
      assert.equal(await r.ended, 'restart');
      await atBrowser.ended;
      assert.ok(Date.now() - started >= 1_900, 'after the 2 s grace, not before');
      assert.equal(atBrowser.bytes().length, RESPONSE_HEAD.length + 100, 'no close frame of ours in the middle of a frame');
    });

    test('the agent closes its WebSocket: its close frame is passed on as it is, then the end', async () => {
      const r = await rig(core);
      const atBrowser = collect(r.browser);
      const theirs = Buffer.concat([frame(Buffer.from('exit 0')), closeFrame(CloseCode.SessionEnded.code, CloseCode.SessionEnded.reason)]);
      r.agent.end(theirs);
      assert.equal(await r.ended, 'agent-closed');
      await atBrowser.ended;
      assert.ok(atBrowser.bytes().equals(Buffer.concat([RESPONSE_HEAD, theirs])));
    });

    test('the agent vanishes between frames: the browser gets 4502 (reconnect)', async () => {
      const r = await rig(core);
      const atBrowser = collect(r.browser);
      const last = frame(Buffer.from('last words'));
      r.agent.write(last);
      while (atBrowser.bytes().length < RESPONSE_HEAD.length + last.length) await sleep(5);
      r.agent.destroy();
      assert.equal(await r.ended, 'agent-failed');
      await atBrowser.ended;
      const want = Buffer.concat([RESPONSE_HEAD, last, closeFrame(CloseCode.UpstreamFailed.code, CloseCode.UpstreamFailed.reason)]);
      assert.ok(atBrowser.bytes().equals(want));
    });

    test('the agent vanishes in the middle of a frame: the browser is cut off, with no close frame', async () => {
      const r = await rig(core);
      const atBrowser = collect(r.browser);
      r.agent.write(frame(randomBytes(5_000)).subarray(0, 1_000));
      while (atBrowser.bytes().length < RESPONSE_HEAD.length + 1_000) await sleep(5);
      r.agent.destroy();
      assert.equal(await r.ended, 'agent-failed');
      await atBrowser.ended;
      assert.equal(atBrowser.bytes().length, RESPONSE_HEAD.length + 1_000);
    });

    test('the browser goes away (a FIN, no close frame): the agent is let go at once', async () => {
      const r = await rig(core);
      const atAgent = collect(r.agent);
      r.browser.end();
      assert.equal(await r.ended, 'browser-closed');
      await atAgent.ended;
    });

    test('ended attachments hold no descriptor', async () => {
      const before = openDescriptors();
      for (let i = 0; i < 20; i += 1) {
        const r = await rig(core);
        r.browser.write('x');
        r.browser.end();
        await r.ended;
        await r.stop();
      }
      await sleep(200);
      assert.ok(openDescriptors() <= before + 2, `descriptors ${before} → ${openDescriptors()}`);
    });
  });
}
