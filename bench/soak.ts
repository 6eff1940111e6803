// `npm run bench -- soak [--cycles N] [--every N] [--kinds session,reset,fin,login]`: does the gateway give back what its users
// leave behind? One local-mode gateway (real agents, real shells) goes through N cycles, each one
// of the ways a user comes and goes:
//   session — create a terminal, attach, type, see the echo, close cleanly, delete the terminal;
//   reset   — attach to a long-lived terminal, type, drop the TCP connection with a reset;
//   fin     — the same, ending with a bare FIN and no close frame (a killed browser, a proxy);
//   login   — log in and out again (a revoked token is remembered until it would expire).
// Every --every cycles it records the gateway's RSS, heap in use (after a forced settle: the
// figures come from /metrics), open descriptors, attachments it counts and agents running. At the
// end, after a pause, what should be back to where it was: attachments 0, descriptors and agents
// as at the start; RSS and heap are printed for the reader (V8 keeps some headroom).
import { randomBytes } from 'node:crypto';
import { writeFile, mkdir } from 'node:fs/promises';
import type { Socket } from 'node:net';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { WebSocket } from 'ws';
import { AgentType, OUTPUT_HEADER_BYTES, decodeAgentMessage, encodeAttach, encodeInput } from '../core/src/protocol/messages.js';
import { intOption } from './lib/options.js';
import { Redis } from 'ioredis';
import {
  REPO_ROOT,
  agentPidsOf,
  ensureBuilt,
  killAllStarted,
  machine,
  metricValue,
  openFiles,
  rssKiB,
  sleep,
  startGatewayProc,
  startRedisProc,
  type GatewayProc,
  type Proc,
} from './gateway-support.js';

const KINDS = ['session', 'reset', 'fin', 'login'] as const;
type Kind = (typeof KINDS)[number];

interface Checkpoint {
  readonly cycle: number;
  readonly rssKiB: number;
  readonly heapUsedMiB: number | null;
  readonly openFiles: number;
  readonly attachments: number | null;
  readonly agents: number;
  /** Keys in the gateway's Redis (with --redis). */
  readonly redisKeys: number | null;
  readonly seconds: number;
}

/** Attaches to a session, types a line, waits for its echo; leaves the socket open for the caller to end. */
async function attachAndType(gateway: GatewayProc, sessionId: string, line: string): Promise<WebSocket> {
  const socket = new WebSocket(`${gateway.url.replace('http', 'ws')}/api/sessions/${sessionId}/attach`, {
    headers: { cookie: gateway.cookie, origin: gateway.url },
    perMessageDeflate: false,
  });
  let seen = '';
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => {
      // Ends the attachment, or the gateway would rightly go on holding it.
      socket.terminate();
      reject(new Error(`no echo of LINE within 10 s; saw ${JSON.stringify(seen.slice(-200).replaceAll(line, 'LINE'))}`));
    }, 10_000);
    socket.on('error', reject);
    socket.on('unexpected-response', (_req, res) => reject(new Error(`attach refused: HTTP ${res.statusCode}`)));
    socket.on('message', (data: Buffer) => {
      if (data[0] === AgentType.Hello) {
        const hello = decodeAgentMessage(data);
        if (hello?.type !== 'hello') return reject(new Error('bad hello'));
        socket.send(encodeAttach(hello.offset));
        socket.send(encodeInput(Buffer.from(`echo ${line}\r`)));
      } else if (data[0] === AgentType.Output) {
        seen += data.subarray(OUTPUT_HEADER_BYTES).toString('latin1');
        // The typed line comes back as `echo <line>`, then <line> is the command's output — maybe
        // after the previous command's prompt, when the typing overtook it (type-ahead).
        if (seen.replace(`echo ${line}`, '').includes(`${line}\r\n`)) {
          clearTimeout(timer);
          resolve();
        }
      }
    });
  });
  return socket;
}

/** The TCP socket under a ws client, to end it the ways a browser's connection can end (ws has no public handle on it). */
const tcpOf = (socket: WebSocket) => (socket as unknown as { _socket: Socket })._socket;

async function closed(socket: WebSocket, end: (socket: WebSocket) => void): Promise<void> {
  const done = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  end(socket);
  await done;
}

async function oneCycle(kind: Kind, gateway: GatewayProc, longLived: string, n: number): Promise<void> {
  const line = `soak-${n}-${randomBytes(3).toString('hex')}`;
  switch (kind) {
    case 'session': {
      const id = await gateway.createSession();
      const socket = await attachAndType(gateway, id, line);
      await closed(socket, (s) => s.close(1000));
      const deleted = await gateway.api('DELETE', `/api/sessions/${id}`);
      if (deleted.status !== 204) throw new Error(`delete: ${deleted.status}`);
      return;
    }
    case 'reset': {
      const socket = await attachAndType(gateway, longLived, line);
      await closed(socket, (s) => tcpOf(s).resetAndDestroy());
      return;
    }
    case 'fin': {
      const socket = await attachAndType(gateway, longLived, line);
      await closed(socket, (s) => tcpOf(s).end());
      return;
    }
    case 'login': {
      const response = await fetch(`${gateway.url}/api/login`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', origin: gateway.url },
        body: JSON.stringify({ username: 'bench', password: 'bench-password-1' }),
      });
      const cookie = response.headers.get('set-cookie')?.split(';')[0];
      if (response.status !== 200 || !cookie) throw new Error(`login: ${response.status}`);
      const out = await fetch(`${gateway.url}/api/logout`, { method: 'POST', headers: { cookie, origin: gateway.url } });
      if (out.status !== 204) throw new Error(`logout: ${out.status}`);
      return;
    }
  }
}

async function checkpoint(gateway: GatewayProc, cycle: number, startedAt: number, redisKeys: () => Promise<number | null>): Promise<Checkpoint> {
  const text = await (await fetch(`${gateway.url}/metrics`)).text();
  const heap = metricValue(text, 'nodejs_heap_size_used_bytes');
  return {
    cycle,
    rssKiB: rssKiB(gateway.proc.pid),
    heapUsedMiB: heap === null ? null : heap / 2 ** 20,
    openFiles: openFiles(gateway.proc.pid),
    attachments: metricValue(text, 'cloudterm_gateway_attachments'),
    agents: agentPidsOf(gateway.dataDir).length,
    redisKeys: await redisKeys(),
    seconds: (performance.now() - startedAt) / 1000,
  };
}

export async function run(argv: readonly string[]): Promise<number> {
  const { values } = parseArgs({
    args: [...argv],
    options: {
      cycles: { type: 'string', default: '4000' },
      every: { type: 'string', default: '500' },
      kinds: { type: 'string', default: KINDS.join(',') },
      redis: { type: 'boolean', default: false },
      label: { type: 'string' },
    },
  });
  const kinds = values.kinds.split(',').map((kind) => {
    if (!KINDS.includes(kind as Kind)) throw new TypeError(`--kinds takes ${KINDS.join(', ')}; got ${kind}`);
    return kind as Kind;
  });
  const cycles = intOption('cycles', values.cycles, 4, 1_000_000);
  const every = intOption('every', values.every, 1, cycles);
  ensureBuilt();
  // With --redis the gateway keeps sessions, limits and revocations in a Redis of its own, whose
  // keys are counted too: what a cycle leaves there must expire or be deleted.
  let redisProc: Proc | null = null;
  let redis: Redis | null = null;
  let redisUrl: string | null = null;
  if (values.redis) {
    ({ proc: redisProc, url: redisUrl } = await startRedisProc());
    redis = new Redis(redisUrl);
  }
  const gateway = await startGatewayProc(redisUrl ? { redisUrl } : {});
  const redisKeys = async () => (redis ? await redis.dbsize() : null);
  const checkpoints: Checkpoint[] = [];
  const errors: Record<string, number> = {};
  try {
    const longLived = await gateway.createSession();
    const startedAt = performance.now();
    await sleep(1_000);
    checkpoints.push(await checkpoint(gateway, 0, startedAt, redisKeys));
    process.stdout.write(`cycle 0: ${JSON.stringify(checkpoints.at(-1))}\n`);
    for (let n = 1; n <= cycles; n++) {
      const kind = kinds[n % kinds.length]!;
      try {
        await oneCycle(kind, gateway, longLived, n);
      } catch (error) {
        const key = `${kind}: ${(error as Error).message}`;
        errors[key] = (errors[key] ?? 0) + 1;
      }
      if (n % every === 0) {
        checkpoints.push(await checkpoint(gateway, n, startedAt, redisKeys));
        process.stdout.write(`cycle ${n}: ${JSON.stringify(checkpoints.at(-1))}\n`);
      }
    }
    // Ends of attachments and sessions are recorded within seconds (activity is flushed every 5 s).
    await sleep(7_000);
    const settled = await checkpoint(gateway, cycles, startedAt, redisKeys);
    const first = checkpoints[0]!;
    const lines = [
      `Soak: ${cycles} cycles (${kinds.join(', ')} in turn) against one local-mode gateway, ${machine().node}`,
      '| cycle | RSS MiB | heap used MiB | open files | attachments | agents | Redis keys | s |',
      '|---|---|---|---|---|---|---|---|',
      ...[...checkpoints, settled].map(
        (c, i) =>
          `| ${i === checkpoints.length ? `${c.cycle}, settled` : c.cycle} | ${(c.rssKiB / 1024).toFixed(1)} | ${c.heapUsedMiB?.toFixed(1) ?? '—'} | ${c.openFiles} | ${c.attachments ?? '—'} | ${c.agents} | ${c.redisKeys ?? '—'} | ${c.seconds.toFixed(0)} |`,
      ),
      `Errors: ${JSON.stringify(errors)}`,
      `Given back: attachments ${settled.attachments === 0 ? 'yes (0)' : `NO (${settled.attachments})`}, ` +
        `open files ${settled.openFiles <= first.openFiles ? `yes (${settled.openFiles}, ${first.openFiles} at the start)` : `NO (${settled.openFiles}, ${first.openFiles} at the start)`}, ` +
        `agents ${settled.agents === first.agents ? `yes (${settled.agents})` : `NO (${settled.agents}, ${first.agents} at the start)`}.`,
    ];
    process.stdout.write(`\n${lines.join('\n')}\n`);
    const dir = join(REPO_ROOT, 'bench/results');
    await mkdir(dir, { recursive: true });
    const date = new Date().toISOString().slice(0, 10);
    await writeFile(join(dir, `soak-${date}${values.label ? `-${values.label}` : ''}.json`), JSON.stringify({ date, machine: machine(), cycles, checkpoints, settled, errors }, null, 2));
    const clean = settled.attachments === 0 && settled.openFiles <= first.openFiles && settled.agents === first.agents && Object.keys(errors).length === 0;
    return clean ? 0 : 1;
  } finally {
    await gateway.stop();
    redis?.disconnect();
    await redisProc?.stop();
    killAllStarted();
  }
}
