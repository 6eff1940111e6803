// A bounded, seeded fuzz of the attach upgrade and of the frames behind it (through both proxy
// cores), through a real gateway to a real agent (issue 18). The seed is printed; FUZZ_SEED=<seed> replays a run. What
// must hold, whatever is sent: every HTTP answer is 101 or an error whose code and status
// docs/errors.md lists, every close code is one docs/protocol.md lists, the gateway and the
// agent stay up, and the session the fuzz hammered still echoes afterwards.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, mkdtemp, writeFile, rm } from 'node:fs/promises';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import { runningAgents, startGatewayFixture, type ApiClient, type GatewayFixture } from '../../helpers/gateway-fixture.js';
import { SeededRandom } from '../../helpers/seeded-random.js';
import { encodeAck, encodeAttach, encodeInput, encodeResize } from '../../../core/src/protocol/messages.js';

const UPGRADE_ITERATIONS = 200;
const FRAME_ITERATIONS = 200;
const CONCURRENCY = 8;
/** How long an exchange may take before the fuzz gives up on it (the server waits for more bytes). */
const EXCHANGE_MS = 1_500;

let gw: GatewayFixture;
let alice: ApiClient;
let sessionId: string;
let port: number;
let dir: string;
let documentedStatus: Map<string, number>;
let documentedCloseCodes: Set<number>;

/** The status code a client close frame carries (masked, as a client's are), or null. */
function sentCloseCode(frameBytes: Buffer): number | null {
  if (frameBytes.length < 2 || (frameBytes[0]! & 0x0f) !== 0x8) return null;
  const length = frameBytes[1]! & 0x7f;
  const keyAt = length === 126 ? 4 : length === 127 ? 10 : 2;
  const masked = (frameBytes[1]! & 0x80) !== 0;
  const payloadAt = keyAt + (masked ? 4 : 0);
  if (frameBytes.length < payloadAt + 2) return null;
  const byte = (i: number) => frameBytes[payloadAt + i]! ^ (masked ? frameBytes[keyAt + i]! : 0);
  return (byte(0) << 8) | byte(1);
}

before(async () => {
  // A program that takes any byte as data: random input must not be a Ctrl-D that ends the shell.
  dir = await mkdtemp(join(tmpdir(), 'cloudterm-fuzz-'));
  const program = join(dir, 'raw-cat.sh');
  await writeFile(program, '#!/bin/sh\nstty raw -echo\nexec cat\n', { mode: 0o755 });
  gw = await startGatewayFixture({ args: ['--shell', program] });
  alice = await gw.login('alice');
  sessionId = (await alice.request('POST', '/api/sessions', {})).body.id;
  port = Number(new URL(gw.url).port);
  const errors = await readFile('docs/errors.md', 'utf8');
  documentedStatus = new Map([...errors.matchAll(/^\| `([a-z_]+)` \| (\d{3}) \|/gm)].map((m) => [m[1]!, Number(m[2])]));
  const protocol = await readFile('docs/protocol.md', 'utf8');
  documentedCloseCodes = new Set([...protocol.matchAll(/^\| (\d{4}) \|/gm)].map((m) => Number(m[1])));
});
after(async () => {
  await gw.stop();
  await rm(dir, { recursive: true, force: true });
});

/** Every connection a fuzz opened: destroyed after each batch, whatever failed. */
const sockets = new Set<Socket>();

/** Runs `count` exchanges, `CONCURRENCY` at a time. */
async function inBatches(count: number, exchange: (i: number) => Promise<void>): Promise<void> {
  for (let i = 0; i < count; i += CONCURRENCY) {
    try {
      await Promise.all(Array.from({ length: Math.min(CONCURRENCY, count - i) }, (_, j) => exchange(i + j)));
    } finally {
      for (const socket of sockets) socket.destroy();
      sockets.clear();
    }
  }
}

/** A connection whose received bytes are collected; `closed` resolves when the gateway is done with it. */
function open(): { socket: Socket; received: () => Buffer; closed: Promise<void>; changed: () => Promise<void> } {
  const socket = connect(port, '127.0.0.1');
  sockets.add(socket);
  socket.on('error', () => undefined);
  const chunks: Buffer[] = [];
  let wake: (() => void) | null = null;
  socket.on('data', (chunk: Buffer) => {
    chunks.push(chunk);
    wake?.();
  });
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  void closed.then(() => wake?.());
  return {
    socket,
    received: () => Buffer.concat(chunks),
    closed,
    changed: () => new Promise<void>((resolve) => (wake = resolve)),
  };
}

/** Waits until `done` holds of the bytes received, the connection closes, or the time is up. */
async function waitUntil(connection: ReturnType<typeof open>, done: (bytes: Buffer) => boolean, ms = EXCHANGE_MS): Promise<void> {
  const deadline = Date.now() + ms;
  let isClosed = false;
  void connection.closed.then(() => (isClosed = true));
  while (!done(connection.received()) && !isClosed && Date.now() < deadline) {
    await Promise.race([connection.changed(), new Promise((resolve) => setTimeout(resolve, Math.max(1, deadline - Date.now())))]);
  }
}

const headEnd = (bytes: Buffer) => bytes.indexOf('\r\n\r\n');

/** Checks an HTTP answer against the docs; returns its status (0: no answer at all). */
function checkHttpAnswer(bytes: Buffer, sent: string, seed: number): number {
  if (bytes.length === 0) return 0;
  const text = bytes.toString('latin1');
  const status = Number(/^HTTP\/1\.1 (\d{3}) /.exec(text)?.[1] ?? NaN);
  const context = `seed ${seed}: ${JSON.stringify(sent.slice(0, 300))} got ${JSON.stringify(text.slice(0, 300))}`;
  assert.ok(Number.isInteger(status), `not an HTTP answer; ${context}`);
  if (status === 101) return status;
  const end = headEnd(bytes);
  assert.ok(end !== -1, `an answer without its head's end; ${context}`);
  const head = text.slice(0, end);
  let body = text.slice(end + 4);
  if (/transfer-encoding: chunked/i.test(head)) body = body.slice(body.indexOf('\r\n') + 2, body.lastIndexOf('\r\n0\r\n'));
  if (status < 400) return status;
  let code: string | undefined;
  try {
    code = (JSON.parse(body) as { error: { code: string } }).error.code;
  } catch {
    assert.fail(`a ${status} without the JSON error body; ${context}`);
  }
  assert.equal(documentedStatus.get(code), status, `${code} ${status} is not what docs/errors.md says; ${context}`);
  return status;
}

const KEY = 'dGhlIHNhbXBsZSBub25jZQ==';

/** The attach upgrade a browser sends: every header right. */
function goodUpgrade(): Record<string, string | null> {
  return {
    'request-line': `GET /api/sessions/${sessionId}/attach HTTP/1.1`,
    host: `127.0.0.1:${port}`,
    origin: gw.url,
    cookie: alice.cookie!,
    connection: 'Upgrade',
    upgrade: 'websocket',
    'sec-websocket-key': KEY,
    'sec-websocket-version': '13',
  };
}

function render(fields: Record<string, string | null>): string {
  const lines = [fields['request-line']!];
  for (const [name, value] of Object.entries(fields)) if (name !== 'request-line' && value !== null) lines.push(`${name}: ${value}`);
  return `${lines.join('\r\n')}\r\n\r\n`;
}

/** What a field may become: right, wrong, missing, hostile. */
function variants(random: SeededRandom): Record<string, (string | null)[]> {
  const junk = () => random.bytes(1 + random.int(20)).toString('latin1').replace(/[\r\n]/g, 'x');
  return {
    'request-line': [
      `POST /api/sessions/${sessionId}/attach HTTP/1.1`,
      `PUT /api/sessions/${sessionId}/attach HTTP/1.1`,
      `GET /api/sessions/nope/attach HTTP/1.1`,
      `GET /api/sessions/${'a'.repeat(200)}/attach HTTP/1.1`,
      `GET /api/sessions/../../etc/passwd HTTP/1.1`,
      `GET /api/sessions/%2e%2e/attach HTTP/1.1`,
      `GET /api/sessions/${sessionId}/attach?x=${'y'.repeat(random.int(20_000))} HTTP/1.1`,
      `GET /attach HTTP/1.1`,
      `GET / HTTP/1.1`,
      `GET /api/sessions/${sessionId}/attach HTTP/1.0`,
      `${junk()} / HTTP/1.1`,
    ],
    host: [null, '', 'evil.example', `evil.example:${port}`, `localhost:${port}`, `127.0.0.1:${port + 1}`, junk()],
    origin: [null, 'null', 'http://evil.example', `http://localhost:${port}`, gw.url.toUpperCase(), junk()],
    cookie: [null, 'cloudterm_token=', `cloudterm_token=${alice.cookie!.split('=')[1]!.slice(0, 40)}`, 'cloudterm_token=a.b.c', junk()],
    connection: [null, 'keep-alive', 'upgrade', 'Upgrade, HTTP2-Settings', junk()],
    upgrade: [null, 'WebSocket', 'h2c', 'websocket, h2c', '', junk()],
    'sec-websocket-key': [null, '', 'short', KEY.slice(0, -2), `${KEY}x`, junk()],
    'sec-websocket-version': [null, '8', '12', '14', '13, 8', '', junk()],
  };
}

test(`the attach upgrade: ${UPGRADE_ITERATIONS} mutated handshakes each get 101 or a documented refusal`, async () => {
  const random = SeededRandom.fromEnvironment('attach upgrade fuzz');
  const seen = new Map<number, number>();
  const requests: string[] = [];
  for (let i = 0; i < UPGRADE_ITERATIONS; i++) {
    const fields = goodUpgrade();
    const choices = variants(random);
    for (let changes = 1 + random.int(3); changes > 0; changes--) {
      const name = random.pick(Object.keys(choices));
      fields[name] = random.pick(choices[name]!);
    }
    let text = render(fields);
    // A quarter are mutated byte by byte (and still end their head, so the parser answers).
    if (random.int(4) === 0) text = `${random.mutate(Buffer.from(text, 'latin1')).toString('latin1')}\r\n\r\n`;
    requests.push(text);
  }
  await inBatches(UPGRADE_ITERATIONS, async (i) => {
    const connection = open();
    connection.socket.write(requests[i]!, 'latin1');
    await waitUntil(connection, (bytes) => {
      const end = headEnd(bytes);
      if (end === -1) return false;
      const head = bytes.subarray(0, end).toString('latin1');
      if (/^HTTP\/1\.1 (101|204|304) /.test(head)) return true;
      if (/transfer-encoding: chunked/i.test(head)) return bytes.subarray(end).includes('\r\n0\r\n\r\n');
      const length = /content-length: (\d+)/i.exec(head)?.[1];
      return length !== undefined && bytes.length >= end + 4 + Number(length);
    });
    // A head the server still waits on (a body it was promised): our end, then whatever it says.
    if (connection.received().length === 0) {
      connection.socket.end();
      await waitUntil(connection, (bytes) => bytes.length > 0, 1_000);
    }
    const status = checkHttpAnswer(connection.received(), requests[i]!, random.seed);
    seen.set(status, (seen.get(status) ?? 0) + 1);
    connection.socket.destroy();
  });
  console.log('upgrade answers by status:', JSON.stringify(Object.fromEntries(seen)));
  assert.ok((seen.get(101) ?? 0) > 0 && [...seen.keys()].some((status) => status >= 400), 'the fuzz reached both sides: upgrades and refusals');
});

/** A client frame (masked unless told), with any header bits. */
function frame(random: SeededRandom, opcode: number, payload: Buffer, options: { fin?: boolean; rsv?: number; masked?: boolean; lengthOverride?: bigint } = {}): Buffer {
  const { fin = true, rsv = 0, masked = true } = options;
  const length = options.lengthOverride ?? BigInt(payload.length);
  const lengthBytes = length < 126n ? 0 : length < 65_536n ? 2 : 8;
  const header = Buffer.alloc(2 + lengthBytes + (masked ? 4 : 0));
  header[0] = (fin ? 0x80 : 0) | (rsv << 4) | (opcode & 0x0f);
  header[1] = (masked ? 0x80 : 0) | (lengthBytes === 0 ? Number(length) : lengthBytes === 2 ? 126 : 127);
  if (lengthBytes === 2) header.writeUInt16BE(Number(length), 2);
  if (lengthBytes === 8) header.writeBigUInt64BE(length, 2);
  if (!masked) return Buffer.concat([header, payload]);
  const mask = random.bytes(4);
  mask.copy(header, 2 + lengthBytes);
  const body = Buffer.from(payload);
  for (let i = 0; i < body.length; i++) body[i] = body[i]! ^ mask[i % 4]!;
  return Buffer.concat([header, body]);
}

function closePayload(code: number, reason: Buffer): Buffer {
  const out = Buffer.alloc(2 + reason.length);
  out.writeUInt16BE(code, 0);
  reason.copy(out, 2);
  return out;
}

/** One hostile frame (or a few bytes that are not one). */
function hostileFrame(random: SeededRandom): Buffer {
  const messages = [encodeInput(random.bytes(random.int(64))), encodeResize(random.int(2000), random.int(2000)), encodeAttach(random.int(2 ** 20)), encodeAck(random.int(2 ** 20))].map((m) => Buffer.from(m));
  const message = () => (random.int(2) === 0 ? random.pick(messages) : random.mutate(random.pick(messages)));
  switch (random.int(14)) {
    case 0:
      return frame(random, 0x1, Buffer.from('text is refused'));
    case 1:
      return frame(random, 0x1, Buffer.from([0xc3, 0x28, 0xff]));
    case 2:
      return frame(random, random.pick([0x3, 0x4, 0x5, 0x6, 0x7, 0xb, 0xc, 0xd, 0xe, 0xf]), message());
    case 3:
      return frame(random, 0x2, message(), { rsv: 1 + random.int(7) });
    case 4:
      return frame(random, 0x2, message(), { masked: false });
    case 5:
      return frame(random, 0x9, random.bytes(126 + random.int(64)));
    case 6:
      return frame(random, 0x9, random.bytes(4), { fin: false });
    case 7:
      return frame(random, 0x0, message());
    case 8:
      return Buffer.concat([frame(random, 0x2, message(), { fin: false }), frame(random, 0x2, message())]);
    case 9:
      return frame(random, 0x8, closePayload(random.pick([0, 999, 1004, 1005, 1006, 1015, 2000, 5000, random.int(65_536)]), random.bytes(random.int(8))));
    case 10:
      return frame(random, 0x8, Buffer.from([random.int(256)]));
    case 11:
      return frame(random, 0x2, Buffer.alloc(0), { lengthOverride: random.pick([2n ** 63n - 1n, 2n ** 53n, BigInt(1024 * 1024 + 1 + random.int(1024))]) });
    case 12:
      return random.mutate(frame(random, 0x2, message()));
    default:
      return frame(random, 0x2, message());
  }
}

/** The server's close code, when one of its frames (unmasked) is a close; null otherwise. */
function closeCodeIn(bytes: Buffer): number | null {
  let at = headEnd(bytes) + 4;
  while (at + 2 <= bytes.length) {
    const opcode = bytes[at]! & 0x0f;
    let length = bytes[at + 1]! & 0x7f;
    let header = 2;
    if (length === 126) {
      if (at + 4 > bytes.length) return null;
      length = bytes.readUInt16BE(at + 2);
      header = 4;
    } else if (length === 127) {
      if (at + 10 > bytes.length) return null;
      length = Number(bytes.readBigUInt64BE(at + 2));
      header = 10;
    }
    if (at + header + length > bytes.length) return null;
    if (opcode === 0x8) return length >= 2 ? bytes.readUInt16BE(at + header) : 1005;
    at += header + length;
  }
  return null;
}

/** Hostile frames through the gateway now in `gw` (its proxy core), to the agent of `sessionId`. */
async function fuzzFrames(name: string): Promise<void> {
  const random = SeededRandom.fromEnvironment(name);
  const agentsBefore = runningAgents(gw.dataDir);
  const plans = Array.from({ length: FRAME_ITERATIONS }, () => ({
    attachFirst: random.int(3) !== 0,
    frames: Array.from({ length: 1 + random.int(3) }, () => hostileFrame(random)),
    goodbye: frame(random, 0x8, closePayload(1000, Buffer.alloc(0))),
  }));
  const codes = new Map<string, number>();
  await inBatches(FRAME_ITERATIONS, async (i) => {
    const plan = plans[i]!;
    const connection = open();
    connection.socket.write(render(goodUpgrade()));
    await waitUntil(connection, (bytes) => headEnd(bytes) !== -1);
    const head = connection.received().toString('latin1');
    assert.match(head, /^HTTP\/1\.1 101 /, `seed ${random.seed}: the known-good upgrade #${i} was refused: ${head.slice(0, 200)}`);
    const accept = createHash('sha1').update(`${KEY}258EAFA5-E914-47DA-95CA-C5AB0DC85B11`).digest('base64');
    assert.match(head, new RegExp(`sec-websocket-accept: ${accept.replace(/[+/]/g, '\\$&')}`, 'i'));
    if (plan.attachFirst) connection.socket.write(frame(random, 0x2, Buffer.from(encodeAttach(0))));
    for (const hostile of plan.frames) connection.socket.write(hostile);
    connection.socket.write(plan.goodbye);
    await waitUntil(connection, (bytes) => closeCodeIn(bytes) !== null);
    const code = closeCodeIn(connection.received());
    // No close frame: either the server still waits for the rest of a frame it was promised, or
    // it dropped the connection (1006) — which only a frame cut short may cause.
    const label = code === null ? (connection.socket.destroyed || connection.socket.readableEnded ? '1006' : 'waiting') : String(code);
    codes.set(label, (codes.get(label) ?? 0) + 1);
    if (code !== null) {
      // A peer answers a close frame by echoing its code (RFC 6455 §5.5.1): a code the client sent
      // itself is its own, not one of ours to document.
      assert.ok(documentedCloseCodes.has(code) || plan.frames.some((f) => sentCloseCode(f) === code), `seed ${random.seed}: close code ${code} is not in docs/protocol.md (frames ${plan.frames.map((f) => f.subarray(0, 16).toString('hex')).join(' ')})`);
    }
    connection.socket.destroy();
  });
  console.log('close codes seen:', JSON.stringify(Object.fromEntries(codes)));
  assert.ok(![...codes.keys()].includes('4502'), 'no hostile frame made the gateway think the agent failed');

  // Everything still stands: the agent process, the gateway, and the session itself.
  assert.deepEqual(runningAgents(gw.dataDir), agentsBefore, 'the agent is the same process');
  assert.equal((await alice.request('GET', '/healthz')).status, 200);
  await new Promise((resolve) => setTimeout(resolve, 200));
  assert.equal(gw.gateway.attach.attachments, 0, 'every fuzzed attachment was let go');
  const terminal = await alice.attach(sessionId);
  terminal.type('still-echoing\r');
  await terminal.waitForText('still-echoing');
  await terminal.close();
  const metrics = await alice.request<string>('GET', '/metrics');
  assert.doesNotMatch(metrics.body, /reason="agent_failed"/);
}

test(`frames behind the upgrade, native core: ${FRAME_ITERATIONS} attachments sent hostile frames close with documented codes; the session still echoes`, () =>
  fuzzFrames('attach frames fuzz, native core'));

test(`frames behind the upgrade, js core: the same through the JavaScript splice`, async () => {
  const native = { gw, alice, sessionId, port };
  gw = await startGatewayFixture({ args: ['--shell', join(dir, 'raw-cat.sh'), '--proxy-core', 'js'] });
  try {
    alice = await gw.login('alice');
    sessionId = (await alice.request('POST', '/api/sessions', {})).body.id;
    port = Number(new URL(gw.url).port);
    await fuzzFrames('attach frames fuzz, js core');
  } finally {
    await gw.stop();
    ({ gw, alice, sessionId, port } = native);
  }
});
