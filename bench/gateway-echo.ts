// Keystroke echo latency and output throughput of one real session, through the gateway and
// straight to an agent of the same kind: the difference is what the gateway adds.
//
// Both terminals are `cloudterm agent` processes from dist/ running /bin/sh on a PTY: the gateway
// starts its own (local mode, unix socket); we start the direct one on 127.0.0.1 with the same
// public key, environment and shell, and mint its single-use attach tokens with the gateway's key.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { WebSocket } from 'ws';
import { signAttachToken } from '../core/src/keys/attach-token.js';
import { importKeyPair } from '../core/src/keys/index.js';
import { ACK_EVERY_BYTES, encodeAck, encodeAttach, encodeInput } from '../core/src/protocol/messages.js';
import { UNCOMPRESSED, sendOptions } from '../core/src/protocol/compression.js';
import { echoLatency, settle as settleFor } from './lib/measure.js';
import {
  GATEWAY_ENTRY,
  SHELL_ENV,
  agentPidOf,
  agentPidsOf,
  cpuSeconds,
  freePort,
  latency,
  spread,
  startGatewayProc,
  startProc,
  waitForPort,
  withTimeout,
  type GatewayProc,
  type Latency,
  type Proc,
  type Spread,
} from './gateway-support.js';

const OUTPUT = 0x82;
const HELLO = 0x81;
export const PIPELINE_BYTES = 200_000_000;
/** `read` first, so nothing is produced before the clock starts with the newline that ends it. */
const PIPELINE_LINE = `read _; head -c ${PIPELINE_BYTES} /dev/zero | tr '\\0' a\n`;

/**
 * A lean terminal client: raw `ws`, output bytes to `sink`, acks as the page sends them. Without
 * compression unless `deflate` (ws's offer; input then compressed as the CLI client does).
 */
export class WsTerminal {
  sink: (chunk: Buffer) => void = () => {};
  private received = 0;
  private acked = 0;

  private constructor(
    private readonly socket: WebSocket,
    /** The extension the agent answered with ('' for none). */
    readonly extensions: string,
  ) {
    socket.on('message', (data: Buffer) => {
      if (data[0] !== OUTPUT) return;
      this.received = Number(data.readBigUInt64BE(1)) + data.length - 9;
      if (this.received - this.acked >= ACK_EVERY_BYTES) {
        this.acked = this.received;
        socket.send(encodeAck(this.received), UNCOMPRESSED);
      }
      this.sink(data.subarray(9));
    });
  }

  static async open(url: string, headers: Record<string, string>, deflate = false): Promise<WsTerminal> {
    const socket = new WebSocket(url, { headers, perMessageDeflate: deflate });
    let extensions = '';
    socket.once('upgrade', (response) => (extensions = String(response.headers['sec-websocket-extensions'] ?? '')));
    const hello = new Promise<void>((resolve, reject) => {
      socket.once('message', (data: Buffer) => (data[0] === HELLO ? resolve() : reject(new Error(`first message 0x${data[0]?.toString(16)}`))));
      socket.once('error', reject);
      socket.once('unexpected-response', (_req, res) => reject(new Error(`HTTP ${res.statusCode} from ${url}`)));
    });
    const terminal = await withTimeout(hello, 10_000, `hello from ${url}`).then(() => new WsTerminal(socket, extensions));
    socket.send(encodeAttach(0), UNCOMPRESSED);
    return terminal;
  }

  type(text: string): void {
    const message = encodeInput(Buffer.from(text, 'latin1'));
    this.socket.send(message, sendOptions(message.byteLength));
  }

  close(): void {
    this.socket.terminate();
  }
}

/**
 * The gateway benchmark waits for 200 ms of quiet (within 10 s) before measuring, where the agent
 * benchmark waits 150 ms (within 5 s): this suite's figures were always taken that way.
 */
const QUIET = { quietMs: 200, timeoutMs: 10_000 } as const;
const settle = (terminal: WsTerminal) => settleFor(terminal, QUIET.quietMs, QUIET.timeoutMs);

const A = Buffer.alloc(1 << 16, 0x61);

export interface ThroughputRun {
  readonly seconds: number;
  readonly mbPerSecond: number;
  /** CPU seconds per wall second during the run, per process (null: not measured). */
  readonly cpu: { gateway: number | null; agent: number | null; client: number };
}

async function throughputRun(terminal: WsTerminal, pids: { gateway: number | null; agent: number | null }): Promise<ThroughputRun> {
  terminal.type(PIPELINE_LINE);
  await settle(terminal);
  let received = 0;
  let doneAt = 0;
  const done = new Promise<void>((resolve, reject) => {
    terminal.sink = (chunk) => {
      for (let at = 0; at < chunk.length; at += A.length) {
        const end = Math.min(chunk.length, at + A.length);
        if (A.compare(chunk, at, end, 0, end - at) !== 0) {
          reject(new Error(`unexpected output after ${received} bytes: ${JSON.stringify(chunk.subarray(at, at + 60).toString('latin1'))}`));
          return;
        }
      }
      received += chunk.length;
      if (received === PIPELINE_BYTES) {
        doneAt = performance.now();
        resolve();
      } else if (received > PIPELINE_BYTES) reject(new Error(`received ${received} bytes, more than ${PIPELINE_BYTES}`));
    };
  });
  const cpuBefore = { gateway: pids.gateway ? cpuSeconds(pids.gateway) : 0, agent: pids.agent ? cpuSeconds(pids.agent) : 0, client: process.cpuUsage() };
  const start = performance.now();
  terminal.type('\n');
  await withTimeout(done, 120_000, `${PIPELINE_BYTES} bytes of output (got ${received})`);
  const seconds = (doneAt - start) / 1000;
  const client = process.cpuUsage(cpuBefore.client);
  const share = (pid: number | null, before: number) => (pid ? (cpuSeconds(pid) - before) / seconds : null);
  terminal.sink = () => {};
  await settle(terminal);
  return {
    seconds,
    mbPerSecond: PIPELINE_BYTES / 1e6 / seconds,
    cpu: { gateway: share(pids.gateway, cpuBefore.gateway), agent: share(pids.agent, cpuBefore.agent), client: (client.user + client.system) / 1e6 / seconds },
  };
}

export interface PathFigures {
  readonly echo: Latency;
  /** p50 and p99 of each run, for the spread. */
  readonly echoRuns: readonly { p50: number; p99: number }[];
  readonly throughput: Spread;
  readonly throughputRuns: readonly ThroughputRun[];
}

export interface EchoFigures {
  readonly direct: PathFigures;
  readonly gateway: PathFigures;
  readonly addedMs: { p50: number; p99: number; max: number };
  readonly throughputShare: number;
  readonly samplesPerRun: number;
  readonly warmup: number;
  readonly runs: number;
  readonly gatewayProfile: string | null;
}

export interface EchoOptions {
  readonly samples: number;
  readonly warmup: number;
  readonly runs: number;
  readonly latency: boolean;
  readonly throughput: boolean;
  /** Directory for a --cpu-prof of the gateway process, or null. */
  readonly profileDir: string | null;
  /** More Node flags for the gateway process (e.g. the lean memory profile). */
  readonly gatewayNodeFlags: readonly string[];
  readonly proxyCore: 'native' | 'js';
  readonly log: (line: string) => void;
}

interface Path {
  readonly name: 'direct' | 'gateway';
  readonly terminal: WsTerminal;
  readonly pids: { gateway: number | null; agent: number | null };
}

export async function measureEcho(options: EchoOptions): Promise<EchoFigures> {
  let gateway: GatewayProc | null = null;
  let agent: Proc | null = null;
  const terminals: WsTerminal[] = [];
  try {
    gateway = await startGatewayProc({
      nodeFlags: [...options.gatewayNodeFlags, ...(options.profileDir ? ['--cpu-prof', '--cpu-prof-dir', options.profileDir] : [])],
      args: ['--proxy-core', options.proxyCore],
    });
    const sessionId = await gateway.createSession();
    // Local mode serves its terminals from terminal hosts: the one this session is on is the only one.
    const gatewayAgentPid = agentPidOf(sessionId) ?? agentPidsOf(gateway.dataDir)[0] ?? null;

    const agentPort = await freePort();
    agent = startProc(
      'direct agent',
      process.execPath,
      [GATEWAY_ENTRY, 'agent', '--listen', `127.0.0.1:${agentPort}`, '--session-id', 'bench-direct', '--public-key-file', join(gateway.dataDir, 'keys/attach.pub'), '--', '/bin/sh'],
      { env: { ...SHELL_ENV, HOME: gateway.dataDir } },
    );
    await waitForPort(agentPort, 15_000, agent);
    const keys = await importKeyPair(
      await readFile(join(gateway.dataDir, 'keys/attach.key'), 'utf8'),
      await readFile(join(gateway.dataDir, 'keys/attach.pub'), 'utf8'),
    );
    const token = await signAttachToken(keys.privateKey, { sessionId: 'bench-direct', user: 'bench', role: 'rw' });

    const direct: Path = {
      name: 'direct',
      terminal: await WsTerminal.open(`ws://127.0.0.1:${agentPort}/attach`, { authorization: `Bearer ${token}` }),
      pids: { gateway: null, agent: agent.pid },
    };
    const through: Path = {
      name: 'gateway',
      terminal: await WsTerminal.open(`${gateway.url.replace('http', 'ws')}/api/sessions/${sessionId}/attach`, {
        cookie: gateway.cookie,
        origin: gateway.url,
      }),
      pids: { gateway: gateway.proc.pid, agent: gatewayAgentPid },
    };
    terminals.push(direct.terminal, through.terminal);
    const paths = [direct, through];

    // Runs alternate between the two paths so that drift of the machine touches both alike.
    const echo = { direct: [] as number[][], gateway: [] as number[][] };
    if (options.latency) {
      for (let run = 0; run < options.runs; run++) {
        for (const path of run % 2 === 0 ? paths : [...paths].reverse()) {
          const samples = await echoLatency(path.terminal, options.samples, options.warmup, QUIET);
          echo[path.name].push(samples);
          const l = latency(samples);
          options.log(`  echo ${path.name} run ${run + 1}: p50 ${l.p50.toFixed(3)} ms, p99 ${l.p99.toFixed(3)} ms, max ${l.max.toFixed(3)} ms`);
        }
      }
    }
    const tput = { direct: [] as ThroughputRun[], gateway: [] as ThroughputRun[] };
    if (options.throughput) {
      for (const path of paths) {
        path.terminal.type("stty -echo; PS1=''\n");
        await settle(path.terminal);
      }
      // One unmeasured run each warms up both ends (JIT, socket buffers).
      for (const path of paths) await throughputRun(path.terminal, path.pids);
      for (let run = 0; run < options.runs; run++) {
        for (const path of run % 2 === 0 ? paths : [...paths].reverse()) {
          const result = await throughputRun(path.terminal, path.pids);
          tput[path.name].push(result);
          options.log(`  throughput ${path.name} run ${run + 1}: ${result.mbPerSecond.toFixed(1)} MB/s in ${result.seconds.toFixed(2)} s`);
        }
      }
    }

    const figures = (name: 'direct' | 'gateway'): PathFigures => ({
      echo: latency(echo[name].flat()),
      echoRuns: echo[name].map((samples) => {
        const l = latency(samples);
        return { p50: l.p50, p99: l.p99 };
      }),
      throughput: spread(tput[name].map((r) => r.mbPerSecond)),
      throughputRuns: tput[name],
    });
    const d = figures('direct');
    const g = figures('gateway');
    for (const terminal of terminals) terminal.close();
    terminals.length = 0;
    await agent.stop();
    agent = null;
    await gateway.stop();
    gateway = null;
    const profile = options.profileDir ? await newestProfile(options.profileDir) : null;
    return {
      direct: d,
      gateway: g,
      addedMs: { p50: g.echo.p50 - d.echo.p50, p99: g.echo.p99 - d.echo.p99, max: g.echo.max - d.echo.max },
      throughputShare: g.throughput.mean / d.throughput.mean,
      samplesPerRun: options.samples,
      warmup: options.warmup,
      runs: options.runs,
      gatewayProfile: profile,
    };
  } finally {
    for (const terminal of terminals) terminal.close();
    await agent?.stop();
    await gateway?.stop();
  }
}

export async function newestProfile(dir: string): Promise<string | null> {
  const { readdir, stat } = await import('node:fs/promises');
  const files = (await readdir(dir)).filter((f) => f.endsWith('.cpuprofile'));
  let best: { path: string; mtime: number } | null = null;
  for (const file of files) {
    const path = join(dir, file);
    const mtime = (await stat(path)).mtimeMs;
    if (!best || mtime > best.mtime) best = { path, mtime };
  }
  return best?.path ?? null;
}
