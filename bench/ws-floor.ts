// `npm run bench -- ws-floor`: the round trip of a 1-byte binary WebSocket message to a Node `ws`
// server in another process that sends it straight back: the floor under any keystroke echo that
// crosses one WebSocket, with no PTY. Compare it with the agent's echo latency.
import { performance } from 'node:perf_hooks';
import { WebSocket } from 'ws';
import { freePort, killAllStarted, startProcess, waitForPort } from './lib/processes.js';
import { latency } from './lib/stats.js';
import { withTimeout } from './lib/terminal.js';

const SERVER = `
import { WebSocketServer } from 'ws';
const wss = new WebSocketServer({ host: '127.0.0.1', port: Number(process.argv[1]), perMessageDeflate: false });
wss.on('connection', (ws) => ws.on('message', (data) => ws.send(data, { binary: true })));
`;

export async function run(argv: readonly string[]): Promise<number> {
  const samples = Number(argv[0] ?? 2000);
  const warmup = 200;
  if (!Number.isInteger(samples) || samples < 10 || samples > 100_000) throw new TypeError('samples: an integer from 10 to 100000');
  const port = await freePort();
  // Run from bench/ so the server resolves the same ws as the client.
  const server = startProcess(process.execPath, ['--input-type=module', '-e', SERVER, String(port)], { cwd: new URL('.', import.meta.url).pathname, env: process.env });
  try {
    await waitForPort(port, 10_000, server);
    const socket = new WebSocket(`ws://127.0.0.1:${port}`, { perMessageDeflate: false });
    await withTimeout(new Promise((resolve, reject) => socket.once('open', resolve).once('error', reject)), 5_000, 'open');
    const key = Buffer.from('x');
    const out: number[] = [];
    for (let i = 0; i < warmup + samples; i++) {
      const sentAt = performance.now();
      const back = new Promise<number>((resolve) => socket.once('message', () => resolve(performance.now())));
      socket.send(key);
      const arrivedAt = await withTimeout(back, 5_000, 'echo');
      if (i >= warmup) out.push(arrivedAt - sentAt);
    }
    socket.terminate();
    const l = latency(out);
    process.stdout.write(`ws round trip, 1-byte binary message, ${l.samples} samples: p50 ${l.p50.toFixed(3)} ms, p90 ${l.p90.toFixed(3)} ms, p99 ${l.p99.toFixed(3)} ms, max ${l.max.toFixed(2)} ms\n`);
    return 0;
  } finally {
    await server.stop();
    killAllStarted();
  }
}
