// The reference relay (relay-server.mjs) as its own process, and a client that hands every
// message on as output.
import { once } from 'node:events';
import { join } from 'node:path';
import { WebSocket, type RawData } from 'ws';
import { freePort, startProcess, waitForPort } from './processes.js';
import { terminateWebSocket, withTimeout, type Chunk, type Target, type Terminal } from './terminal.js';

async function connect(port: number): Promise<Terminal> {
  const socket = new WebSocket(`ws://127.0.0.1:${port}`, { perMessageDeflate: false });
  const terminal: Terminal = {
    type: (text) => socket.send(Buffer.from(text, 'latin1')),
    sink: () => {},
    close: () => terminateWebSocket(socket),
  };
  socket.on('message', (data: RawData) => terminal.sink(data as Chunk));
  // events.once rejects on 'error': a refused connection fails here.
  await withTimeout(once(socket, 'open'), 10_000, 'relay connection');
  return terminal;
}

export async function startRelay(options: { readonly benchDir: string; readonly workDir: string; readonly env: NodeJS.ProcessEnv }): Promise<Target> {
  const port = await freePort();
  const server = startProcess(process.execPath, [join(options.benchDir, 'lib', 'relay-server.mjs'), String(port)], { cwd: options.workDir, env: options.env });
  await waitForPort(port, 15_000, server);
  return {
    name: 'reference relay',
    pid: server.pid,
    // No roles: a viewer is one more connection to the same shell.
    open: () => connect(port),
    stop: () => server.stop(),
  };
}
