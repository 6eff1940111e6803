// A light upstream standing in for agents in the concurrency benchmark, so that the gateway is
// what is measured: on a unix socket, it answers every WebSocket upgrade with a correct 101
// (Sec-WebSocket-Accept computed from the key), sends one hello frame as an agent would, then
// holds the connection idle. Bytes it receives afterwards are sent back unchanged, so the load
// generator can check that a sample of attachments is still spliced end to end.
//
// With --resume (the scale benchmark) it keeps what an agent keeps for resuming instead: each
// session (the CloudTerm-Session header) has an output offset that outlives its connections; the
// hello carries it, the client's attach message says where to resume, and the output from there
// follows. Streaming sessions (lib/stand-in-output.ts) produce a known pattern all the time; in
// the others typed input comes back as output, as a PTY's echo does.
//
// Run as its own process: node --import tsx bench/gateway-upstream.ts /path/to/socket [--resume]
import { createHash } from 'node:crypto';
import { rmSync } from 'node:fs';
import { createServer, type Socket } from 'node:net';
import { ClientType, encodeHello, encodeOutput } from '../core/src/protocol/messages.js';
import { FrameReader, OPCODE_BINARY, OPCODE_CLOSE, WS_GUID, serverFrame } from './lib/ws-frames.js';
import { STREAM_BYTES, STREAM_INTERVAL_MS, STREAM_PREFIX, patternBytes } from './lib/stand-in-output.js';

const HEAD_END = Buffer.from('\r\n\r\n');
// A binary frame holding an agent hello: 81 version role cols rows offset oldest (23 bytes).
const HELLO = Buffer.concat([Buffer.from([0x82, 23, 0x81, 1, 0, 0, 80, 0, 24]), Buffer.alloc(16)]);

const path = process.argv[2];
if (!path) {
  process.stderr.write('usage: gateway-upstream.ts SOCKET_PATH [--resume]\n');
  process.exit(2);
}
const resume = process.argv.includes('--resume');

/** A session's output as the stand-in keeps it: only its end (the bytes are computable). */
interface StandInSession {
  produced: number;
  /** Attachments past their attach message: they get every new byte. */
  readonly live: Set<Socket>;
}

const sessions = new Map<string, StandInSession>();
const streaming: StandInSession[] = [];

function sessionOf(id: string): StandInSession {
  let session = sessions.get(id);
  if (!session) {
    session = { produced: 0, live: new Set() };
    sessions.set(id, session);
    if (id.startsWith(STREAM_PREFIX)) streaming.push(session);
  }
  return session;
}

function send(session: StandInSession, data: Buffer): void {
  const frame = serverFrame(encodeOutput(session.produced, data));
  session.produced += data.length;
  for (const socket of session.live) socket.write(frame);
}

/** After the 101: the hello, then output from wherever the client's attach message says. */
function speak(socket: Socket, sessionId: string, rest: Buffer): void {
  const session = sessionOf(sessionId);
  socket.write(serverFrame(encodeHello({ role: 'rw', cols: 80, rows: 24, offset: session.produced, oldest: 0 })));
  const reader = new FrameReader();
  socket.on('close', () => session.live.delete(socket));
  const onData = (chunk: Buffer) => {
    for (const { opcode, payload } of reader.push(chunk)) {
      if (opcode === OPCODE_CLOSE) {
        socket.end(serverFrame(payload, OPCODE_CLOSE));
        return;
      }
      if (opcode !== OPCODE_BINARY || payload.length === 0) continue;
      if (payload[0] === ClientType.Attach && payload.length === 9 && !session.live.has(socket)) {
        const from = Math.min(Number(payload.readBigUInt64BE(1)), session.produced);
        if (from < session.produced) {
          const missed = sessionId.startsWith(STREAM_PREFIX) ? patternBytes(from, session.produced) : Buffer.alloc(session.produced - from, 0x78);
          socket.write(serverFrame(encodeOutput(from, missed)));
        }
        session.live.add(socket);
      } else if (payload[0] === ClientType.Input && !sessionId.startsWith(STREAM_PREFIX)) {
        send(session, payload.subarray(1));
      }
    }
  };
  socket.on('data', onData);
  if (rest.length > 0) onData(rest);
}

if (resume) {
  setInterval(() => {
    for (const session of streaming) send(session, patternBytes(session.produced, session.produced + STREAM_BYTES));
  }, STREAM_INTERVAL_MS);
}

let open = 0;
let upgraded = 0;

function serve(socket: Socket): void {
  open += 1;
  let head: Buffer = Buffer.alloc(0);
  socket.on('error', () => socket.destroy());
  socket.on('close', () => {
    open -= 1;
  });
  const onHead = (chunk: Buffer) => {
    head = head.length === 0 ? chunk : Buffer.concat([head, chunk]);
    const end = head.indexOf(HEAD_END);
    if (end === -1) {
      if (head.length > 16 * 1024) socket.destroy();
      return;
    }
    socket.removeListener('data', onHead);
    const key = /^sec-websocket-key:\s*(\S+)\s*$/im.exec(head.subarray(0, end).toString('latin1'))?.[1];
    if (!key) {
      socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
      return;
    }
    const accept = createHash('sha1').update(key + WS_GUID).digest('base64');
    socket.write(`HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\n\r\n`);
    upgraded += 1;
    const rest = head.subarray(end + HEAD_END.length);
    if (resume) {
      const sessionId = /^cloudterm-session:\s*(\S+)\s*$/im.exec(head.subarray(0, end).toString('latin1'))?.[1] ?? '';
      speak(socket, sessionId, rest);
      return;
    }
    socket.write(HELLO);
    socket.on('data', (data: Buffer) => socket.write(data));
    if (rest.length > 0) socket.write(rest);
  };
  socket.on('data', onHead);
}

rmSync(path, { force: true });
const server = createServer(serve);
server.maxConnections = 1_000_000;
server.listen({ path, backlog: 4096 }, () => process.stdout.write('ready\n'));
// The parent reads the counts from our stdout: the upstream's view of how many are spliced.
const timer = setInterval(() => process.stdout.write(`open ${open} upgraded ${upgraded}\n`), 1_000);
for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.once(signal, () => {
    clearInterval(timer);
    server.close();
    rmSync(path, { force: true });
    process.exit(0);
  });
}
