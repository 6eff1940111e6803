// The reference relay: the least a process can do to serve a PTY over WebSocket. One shell,
// started with the first connection and shared by all; each PTY read is sent as it is (ws.send,
// no header, no ring, no coalescing, no flow control beyond the socket's); each message in is
// written to the PTY. What separates it from the in-process ceiling is the cost of handing the
// bytes to another process at all; what separates the agent from it is the agent's own work.
//   node relay-server.mjs PORT   (plain JavaScript: nothing but node-pty and ws is measured)
import { createRequire } from 'node:module';

// The project's own node-pty and ws (the agent's versions), not the ones wetty brings to bench/.
const require = createRequire(new URL('../../package.json', import.meta.url));
const pty = require('node-pty');
const { WebSocketServer } = require('ws');

const port = Number(process.argv[2]);
const server = new WebSocketServer({ host: '127.0.0.1', port, perMessageDeflate: false });
const clients = new Set();
let shell = null;

server.on('connection', (socket) => {
  clients.add(socket);
  socket.on('close', () => clients.delete(socket));
  if (shell === null) {
    shell = pty.spawn('/bin/sh', [], { name: 'xterm-256color', cols: 80, rows: 24, cwd: process.cwd(), env: process.env, encoding: null });
    shell.onData((data) => {
      for (const client of clients) client.send(data);
    });
  }
  socket.on('message', (data) => shell.write(data));
});
server.on('listening', () => process.stdout.write('ready\n'));
process.on('SIGTERM', () => {
  shell?.kill('SIGKILL');
  process.exit(0);
});
