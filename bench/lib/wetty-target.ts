// wetty 3.2.0 (node-pty + socket.io) as its own process, driven the way its browser client drives
// it: 'input' carries keys, 'data' carries output as text, and 'commit' acknowledges every 256 KiB
// received (without it wetty pauses the PTY after 2 MiB in flight).
import { join } from 'node:path';
import { io, type Socket } from 'socket.io-client';
import { freePort, startProcess, waitForPort } from './processes.js';
import { withTimeout, type Target, type Terminal } from './terminal.js';

/** wetty's client commits in steps of this many characters (its `ackBytes`). */
const ACK_CHARS = 262_144;

export interface WettyTargetOptions {
  readonly benchDir: string;
  readonly workDir: string;
  readonly env: NodeJS.ProcessEnv;
}

async function connect(port: number): Promise<Terminal> {
  const socket: Socket = io(`http://127.0.0.1:${port}`, {
    path: '/socket.io',
    // A browser upgrades from polling to WebSocket within a moment; the benchmark starts there.
    transports: ['websocket'],
    forceNew: true,
    reconnection: false,
  });
  let uncommitted = 0;
  const terminal: Terminal = {
    type: (text) => {
      socket.emit('input', text);
    },
    sink: () => {},
    close: async () => {
      socket.disconnect();
    },
  };
  socket.on('data', (text: string) => {
    terminal.sink(text);
    uncommitted += text.length;
    while (uncommitted >= ACK_CHARS) {
      uncommitted -= ACK_CHARS;
      socket.emit('commit', ACK_CHARS);
    }
  });
  // wetty spawns the PTY per connection and says 'login' once it listens for input.
  await withTimeout(
    new Promise<void>((resolve, reject) => {
      socket.once('login', () => resolve());
      socket.once('connect_error', reject);
    }),
    15_000,
    'wetty login',
  );
  return terminal;
}

export async function startWetty(options: WettyTargetOptions): Promise<Target> {
  const port = await freePort();
  const server = startProcess(
    process.execPath,
    [
      join(options.benchDir, 'node_modules/wetty/build/main.js'),
      '--host', '127.0.0.1',
      '--port', String(port),
      // As root with the default ssh host, wetty runs the command locally instead of ssh.
      '--command', '/bin/sh',
      '--log-level', 'warn',
    ],
    { cwd: options.workDir, env: options.env },
  );
  await waitForPort(port, 15_000, server);
  return {
    name: 'wetty 3.2.0',
    pid: server.pid,
    open: () => connect(port),
    stop: () => server.stop(),
  };
}
