// A light upstream standing in for agents in the concurrency benchmark, so that the gateway is
// what is measured: on a unix socket, it answers every WebSocket upgrade with a correct 101
// (Sec-WebSocket-Accept computed from the key), sends one hello frame as an agent would, then
// holds the connection idle. Bytes it receives afterwards are sent back unchanged, so the load
// generator can check that a sample of attachments is still spliced end to end.
//
// Run as its own process: node --import tsx bench/gateway-upstream.ts /path/to/socket
import { createHash } from 'node:crypto';
import { rmSync } from 'node:fs';
import { createServer, type Socket } from 'node:net';

const WS_GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC11D65';
const HEAD_END = Buffer.from('\r\n\r\n');
// A binary frame holding an agent hello: 81 version role cols rows offset oldest (23 bytes).
const HELLO = Buffer.concat([Buffer.from([0x82, 23, 0x81, 1, 0, 0, 80, 0, 24]), Buffer.alloc(16)]);

const path = process.argv[2];
if (!path) {
  process.stderr.write('usage: gateway-upstream.ts SOCKET_PATH\n');
  process.exit(2);
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
    socket.write(HELLO);
    upgraded += 1;
    socket.on('data', (data: Buffer) => socket.write(data));
    const rest = head.subarray(end + HEAD_END.length);
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
