// How many attachments one gateway process holds, and its memory on the way.
//
// One real session is created (its agent started by the gateway), then its endpoint is pointed,
// in Redis, at a light upstream (gateway-upstream.ts, its own process) that answers each upgrade
// with a 101 and holds it: every attachment then costs the gateway exactly what a real one does
// (Origin and cookie checks, a user-token verification, a session read, an attach-token
// signature, an upstream connection, the splice) while no PTY agent has to exist per attachment.
// The load generator (this process) opens raw TCP connections with a hand-written upgrade from
// several loopback source addresses (one address has only ~28K ephemeral ports), a window of
// handshakes at a time, and counts the 101s whose Sec-WebSocket-Accept matches its key.
import { randomBytes } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { copyFile, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, type Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import { Redis } from 'ioredis';
import {
  REPO_ROOT,
  cpuSeconds,
  effectiveFileLimit,
  metricValue,
  openFiles,
  raiseOwnFileLimit,
  rssKiB,
  rssPartsKiB,
  sleep,
  startGatewayProc,
  startProc,
  startRedisProc,
  type GatewayProc,
  type Proc,
} from './gateway-support.js';
import { newestProfile } from './gateway-echo.js';
import { ClientHandshake } from './lib/ws-frames.js';
import { createMemoryCgroup, type MemoryCgroup, type MemoryCgroupReading } from './lib/memory-cgroup.js';

const HANDSHAKE_TIMEOUT_MS = 15_000;
const RELEASE = 100;

export interface ConcurrencyOptions {
  readonly max: number;
  readonly checkpoints: readonly number[];
  /** Loopback source addresses 127.0.0.2 … 127.0.0.(1+sources). */
  readonly sources: number;
  /** Handshakes in flight at once. */
  readonly window: number;
  /** The whole fill is bounded by this. */
  readonly deadlineMs: number;
  readonly profileDir: string | null;
  /** More Node flags for the gateway process (e.g. --max-semi-space-size=1). */
  readonly gatewayNodeFlags: readonly string[];
  readonly proxyCore: 'native' | 'js';
  /**
   * Seconds to keep holding every attachment after the last checkpoint while sampling the
   * gateway's memory: what it settles to once the burst of handshakes is over (0: not measured).
   */
  readonly settleSeconds: number;
  /** Seconds to hold every attachment after that (to inspect the gateway by hand). */
  readonly holdSeconds: number;
  /**
   * Run the gateway in a memory cgroup with this limit, from a private copy of the node binary so
   * that its code pages are charged to it (as in a container of its own); null: no limit.
   */
  readonly memoryLimitBytes: number | null;
  readonly log: (line: string) => void;
}

export interface Checkpoint {
  readonly attachments: number;
  readonly gatewayRssKiB: number;
  /** Its parts: the process's own pages, and mapped files' (the node binary's, shared). */
  readonly gatewayRssAnonKiB: number;
  readonly gatewayRssFileKiB: number;
  readonly gatewayOpenFiles: number;
  /** cloudterm_gateway_attachments, the gateway's own count. */
  readonly gatewayReports: number | null;
  /** From the gateway's /metrics (prom-client): V8 heap in use and memory outside the heap (Buffers). */
  readonly heapUsedBytes: number | null;
  readonly externalBytes: number | null;
  /** Connections the light upstream holds (the gateway's upstream halves). */
  readonly upstreamOpen: number | null;
  /** Attachments per second while filling up to this checkpoint. */
  readonly attachRate: number;
  /** Gateway CPU seconds per wall second while filling. */
  readonly gatewayCpuShare: number;
  readonly elapsedSeconds: number;
  readonly loadGeneratorRssKiB: number;
  /** The gateway's memory cgroup, when it runs under a limit. */
  readonly cgroup: MemoryCgroupReading | null;
}

/** The gateway's memory at one moment while it holds every attachment, idle. */
export interface SettleSample {
  readonly seconds: number;
  readonly rssKiB: number;
  readonly anonKiB: number;
  readonly fileKiB: number;
}

export interface ConcurrencyFigures {
  readonly target: number;
  readonly reached: number;
  readonly stoppedBecause: string;
  readonly errors: Record<string, number>;
  /** Attachments that were established and later closed by the other side while held. */
  readonly dropped: number;
  readonly baselineRssKiB: number;
  readonly checkpoints: readonly Checkpoint[];
  /**
   * The gateway's memory every few seconds after the last checkpoint, all attachments held and
   * idle: right after the burst the heap V8 grew for the handshakes is still there, and V8 gives
   * it back once allocation has been low for a while (its memory reducer). Empty when not measured.
   */
  readonly settle: readonly SettleSample[];
  /** The gateway's heap in use at the end of the settling, from its /metrics. */
  readonly settledHeapUsedBytes: number | null;
  /** Taken after the settling: every sampled attachment still carries bytes both ways. */
  readonly probe: { readonly sent: number; readonly echoed: number; readonly ms: number };
  readonly shutdown: { readonly seconds: number; readonly killed: boolean };
  readonly sources: number;
  readonly window: number;
  /** The open-files limit of every process here (the gateway needs 2 per attachment). */
  readonly fileLimit: number;
  readonly gatewayNodeFlags: readonly string[];
  readonly proxyCore: 'native' | 'js';
  /** Attachments closed before the last checkpoint, so that the gateway had fds to answer /metrics. */
  readonly released: number;
  /**
   * A least-squares line through the checkpoints' RSS: KiB per attachment, and the RSS it gives
   * at sizes this machine could not reach (a projection, not a measurement).
   */
  readonly fit: { readonly kibPerAttachment: number; readonly interceptKiB: number; readonly projectedRssKiB: Record<string, number> } | null;
  readonly gatewayProfile: string | null;
  /** The limit the gateway ran under, and its cgroup's reading at the end (peak, OOM kills). */
  readonly memoryLimit: { readonly limitBytes: number; readonly final: MemoryCgroupReading } | null;
}

function fitLine(points: readonly Checkpoint[]): ConcurrencyFigures['fit'] {
  if (points.length < 2) return null;
  const n = points.length;
  const mx = points.reduce((a, p) => a + p.attachments, 0) / n;
  const my = points.reduce((a, p) => a + p.gatewayRssKiB, 0) / n;
  const sxx = points.reduce((a, p) => a + (p.attachments - mx) ** 2, 0);
  if (sxx === 0) return null;
  const slope = points.reduce((a, p) => a + (p.attachments - mx) * (p.gatewayRssKiB - my), 0) / sxx;
  const intercept = my - slope * mx;
  const projectedRssKiB: Record<string, number> = {};
  for (const size of [10_000, 50_000, 100_000]) projectedRssKiB[String(size)] = intercept + slope * size;
  return { kibPerAttachment: slope, interceptKiB: intercept, projectedRssKiB };
}

interface Held {
  readonly socket: Socket;
}

const ignore = () => {};

/** One attachment: resolves with the socket after a verified 101, or with why it failed. */
function attachOne(gateway: GatewayProc, sessionId: string, localAddress: string, onDrop: () => void): Promise<Held | string> {
  return new Promise((resolve) => {
    const handshake = new ClientHandshake();
    const socket = connect({ host: '127.0.0.1', port: gateway.port, localAddress });
    let done = false;
    const finish = (result: Held | string) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      socket.removeListener('data', onData);
      if (typeof result === 'string') socket.destroy();
      else socket.once('close', onDrop);
      resolve(result);
    };
    const timer = setTimeout(() => finish('timeout'), HANDSHAKE_TIMEOUT_MS);
    const onData = (chunk: Buffer) => {
      const answer = handshake.push(chunk);
      if (answer) finish('failure' in answer ? answer.failure : { socket });
    };
    socket.on('error', (error: NodeJS.ErrnoException) => finish(error.code ?? error.message));
    socket.on('error', ignore);
    socket.on('close', () => finish('closed before 101'));
    socket.on('data', onData);
    socket.once('connect', () => socket.write(handshake.request(gateway.port, `/api/sessions/${sessionId}/attach`, `Origin: ${gateway.url}\r\nCookie: ${gateway.cookie}\r\n`)));
  });
}

interface GatewayMetrics {
  readonly attachments: number | null;
  readonly heapUsedBytes: number | null;
  readonly externalBytes: number | null;
}

async function gatewayMetrics(gateway: GatewayProc): Promise<GatewayMetrics> {
  try {
    const text = await (await fetch(`${gateway.url}/metrics`)).text();
    return {
      attachments: metricValue(text, 'cloudterm_gateway_attachments'),
      heapUsedBytes: metricValue(text, 'nodejs_heap_size_used_bytes'),
      externalBytes: metricValue(text, 'nodejs_external_memory_bytes'),
    };
  } catch {
    return { attachments: null, heapUsedBytes: null, externalBytes: null };
  }
}

/** Sends one small masked binary frame on a sample of attachments; the upstream echoes it back through the splice. */
async function probe(held: readonly Held[], count: number): Promise<{ sent: number; echoed: number; ms: number }> {
  const step = Math.max(1, Math.floor(held.length / count));
  const sample = held.filter((_, i) => i % step === 0).slice(0, count);
  const start = performance.now();
  const results = await Promise.all(
    sample.map(
      ({ socket }, i) =>
        new Promise<boolean>((resolve) => {
          const payload = Buffer.alloc(4);
          payload.writeUInt32BE(i);
          const mask = randomBytes(4);
          const frame = Buffer.concat([Buffer.from([0x82, 0x80 | 4]), mask, Buffer.from(payload.map((b, j) => b ^ mask[j]!))]);
          let seen: Buffer = Buffer.alloc(0);
          const timer = setTimeout(() => done(false), 10_000);
          const onData = (chunk: Buffer) => {
            seen = Buffer.concat([seen, chunk]);
            if (seen.includes(frame)) done(true);
          };
          const done = (ok: boolean) => {
            clearTimeout(timer);
            socket.removeListener('data', onData);
            resolve(ok);
          };
          socket.on('data', onData);
          socket.write(frame);
        }),
    ),
  );
  return { sent: sample.length, echoed: results.filter(Boolean).length, ms: performance.now() - start };
}

const SETTLE_SAMPLE_MS = 5_000;

/** Samples the gateway's memory every few seconds for `seconds`, logging each change. */
async function settleMemory(pid: number, seconds: number, log: (line: string) => void): Promise<SettleSample[]> {
  const samples: SettleSample[] = [];
  if (seconds <= 0) return samples;
  log(`  settling: sampling the gateway's memory every ${SETTLE_SAMPLE_MS / 1000} s for ${seconds} s, every attachment held and idle`);
  const start = performance.now();
  for (;;) {
    const parts = rssPartsKiB(pid);
    const sample = { seconds: (performance.now() - start) / 1000, rssKiB: rssKiB(pid), anonKiB: parts.anonymous, fileKiB: parts.file };
    const previous = samples.at(-1);
    if (!previous || Math.abs(previous.rssKiB - sample.rssKiB) >= 1024) {
      log(`    ${sample.seconds.toFixed(0)} s: RSS ${(sample.rssKiB / 1024).toFixed(1)} MiB = ${(sample.anonKiB / 1024).toFixed(1)} own + ${(sample.fileKiB / 1024).toFixed(1)} files`);
    }
    samples.push(sample);
    if (sample.seconds >= seconds) return samples;
    await sleep(Math.min(SETTLE_SAMPLE_MS, seconds * 1000 - (performance.now() - start)));
  }
}

export async function measureConcurrency(options: ConcurrencyOptions): Promise<ConcurrencyFigures> {
  raiseOwnFileLimit();
  const held: Held[] = [];
  let redisProc: Proc | null = null;
  let upstream: Proc | null = null;
  let gateway: GatewayProc | null = null;
  let redis: Redis | null = null;
  let cgroup: MemoryCgroup | null = null;
  let privateNode: string | null = null;
  let limitedDataDir: string | null = null;
  try {
    const started = await startRedisProc();
    redisProc = started.proc;
    const redisUrl = started.url;
    redis = new Redis(redisUrl);

    const nodeFlags = [...options.gatewayNodeFlags, ...(options.profileDir ? ['--cpu-prof', '--cpu-prof-dir', options.profileDir] : [])];
    // Its default cap keeps 1024 descriptors for the rest; here the machine's limit is what is measured.
    // One bench user holds every attachment: the per-user cap must not be what is measured.
    const args = ['--max-attachments', String(options.max), '--max-attachments-per-user', String(options.max), '--proxy-core', options.proxyCore];
    let sessionId: string;
    if (options.memoryLimitBytes === null) {
      gateway = await startGatewayProc({ redisUrl, nodeFlags, args });
      sessionId = await gateway.createSession();
    } else {
      // The session's real agent is a child of the gateway that starts it, and a child shares its
      // parent's cgroup: it is started by an unconfined gateway, which then restarts under the
      // limit with the same data directory and Redis (agents outlive a gateway, like tmux).
      limitedDataDir = await mkdtemp(join(tmpdir(), 'ctbench-gw-'));
      const starter = await startGatewayProc({ redisUrl, dataDir: limitedDataDir });
      sessionId = await starter.createSession();
      await starter.proc.stop(15_000);
      privateNode = join(limitedDataDir, 'node');
      await copyFile(process.execPath, privateNode);
      // The copy's pages, still cached, would stay charged to this process: written out and
      // dropped, they are charged to the gateway when it reads them (as in a container of its own).
      execFileSync('sync', [privateNode]);
      await writeFile('/proc/sys/vm/drop_caches', '1');
      cgroup = createMemoryCgroup(`cloudterm-bench-${process.pid}`, options.memoryLimitBytes);
      gateway = await startGatewayProc({ redisUrl, nodeFlags, args, dataDir: limitedDataDir, nodeBinary: privateNode, cgroupProcsFile: cgroup.procsFile });
      options.log(`  gateway in a memory cgroup limited to ${(cgroup.limitBytes / 1e6).toFixed(0)} MB, from a private copy of node`);
    }
    const socketPath = join(gateway.dataDir, 'light-upstream.sock');
    upstream = startProc('light upstream', process.execPath, ['--import', 'tsx', join(REPO_ROOT, 'bench/gateway-upstream.ts'), socketPath]);
    let upstreamOpen: number | null = null;
    upstream.child.stdout?.on('data', (chunk: Buffer) => {
      const counts = /open (\d+) upgraded \d+\n?$/.exec(chunk.toString('latin1').trimEnd());
      if (counts) upstreamOpen = Number(counts[1]);
    });
    for (let i = 0; !upstream.output().includes('ready'); i++) {
      if (upstream.exited() || i > 200) throw new Error(`light upstream did not start: ${upstream.output()}`);
      await sleep(50);
    }

    const key = `cloudterm:session:${sessionId}`;
    if ((await redis.hget(key, 'state')) !== 'running') throw new Error(`session ${sessionId} is not running in Redis`);
    await redis.hset(key, 'endpoint', `unix:${socketPath}`);
    await sleep(1_000);
    const baselineRssKiB = rssKiB(gateway.proc.pid);
    options.log(`  gateway pid ${gateway.proc.pid}, RSS at 0 attachments ${(baselineRssKiB / 1024).toFixed(1)} MiB`);

    const errors: Record<string, number> = {};
    let failures = 0;
    let dropped = 0;
    let recentFailures = 0;
    let stoppedBecause = '';
    const deadline = Date.now() + options.deadlineMs;
    const checkpoints: Checkpoint[] = [];
    const levels = [...new Set([...options.checkpoints.filter((c) => c < options.max), options.max])].sort((a, b) => a - b);
    const g = gateway;
    let attempts = 0;
    let released = 0;
    const startedAt = performance.now();

    for (const level of levels) {
      const fillStart = performance.now();
      const fillFrom = held.length;
      const cpuFrom = cpuSeconds(g.proc.pid);
      let inFlight = 0;
      const worker = async () => {
        while (!stoppedBecause && held.length + inFlight < level) {
          if (Date.now() > deadline) {
            stoppedBecause = `time bound (${options.deadlineMs / 1000} s) reached`;
            break;
          }
          const source = `127.0.0.${2 + (attempts % options.sources)}`;
          attempts += 1;
          inFlight += 1;
          const result = await attachOne(g, sessionId, source, () => {
            dropped += 1;
          });
          inFlight -= 1;
          if (typeof result === 'string') {
            failures += 1;
            recentFailures += 1;
            errors[result] = (errors[result] ?? 0) + 1;
            if (recentFailures >= 500) stoppedBecause = `500 handshakes in a row failed (last: ${result})`;
            else if (failures >= Math.max(1_000, options.max / 100)) stoppedBecause = `${failures} handshakes failed (${JSON.stringify(errors)})`;
          } else {
            recentFailures = 0;
            held.push(result);
          }
        }
      };
      await Promise.all(Array.from({ length: options.window }, worker));
      const fillSeconds = (performance.now() - fillStart) / 1000;
      if (g.proc.exited()) {
        const killedForMemory = cgroup && cgroup.read().oomKills > 0 ? ' (killed by the kernel: out of memory within the cgroup limit)' : '';
        stoppedBecause = `the gateway exited at ${held.length} attachments${killedForMemory}: ${g.proc.output().slice(-300)}`;
        break;
      }
      const gatewayCpuShare = (cpuSeconds(g.proc.pid) - cpuFrom) / fillSeconds;
      const filled = held.length;
      if (stoppedBecause && held.length > RELEASE) {
        // Out of descriptors the gateway could not even answer /metrics: give it a few back. With
        // a reset: the gateway does not notice a plain FIN (see docs/benchmarks-gateway.md).
        for (const { socket } of held.splice(held.length - RELEASE)) socket.resetAndDestroy();
        released = RELEASE;
      }
      await sleep(2_000);
      if (g.proc.exited()) {
        stoppedBecause = `the gateway exited: ${g.proc.output().slice(-500)}`;
        break;
      }
      const metrics = await gatewayMetrics(g);
      const rssParts = rssPartsKiB(g.proc.pid);
      const point: Checkpoint = {
        attachments: held.length,
        gatewayRssKiB: rssKiB(g.proc.pid),
        gatewayRssAnonKiB: rssParts.anonymous,
        gatewayRssFileKiB: rssParts.file,
        gatewayOpenFiles: openFiles(g.proc.pid),
        gatewayReports: metrics.attachments,
        heapUsedBytes: metrics.heapUsedBytes,
        externalBytes: metrics.externalBytes,
        upstreamOpen,
        attachRate: (filled - fillFrom) / fillSeconds,
        gatewayCpuShare,
        elapsedSeconds: (performance.now() - startedAt) / 1000,
        loadGeneratorRssKiB: rssKiB(process.pid),
        cgroup: cgroup?.read() ?? null,
      };
      checkpoints.push(point);
      options.log(
        `  ${point.attachments} attachments (gateway says ${point.gatewayReports}, upstream holds ${point.upstreamOpen}): ` +
          `RSS ${(point.gatewayRssKiB / 1024).toFixed(1)} MiB = ${(point.gatewayRssAnonKiB / 1024).toFixed(1)} own + ${(point.gatewayRssFileKiB / 1024).toFixed(1)} files (heap ${((point.heapUsedBytes ?? 0) / 2 ** 20).toFixed(1)}, external ${((point.externalBytes ?? 0) / 2 ** 20).toFixed(1)}), ${point.gatewayOpenFiles} fds, ${point.attachRate.toFixed(0)}/s, ` +
          `gateway CPU ${(point.gatewayCpuShare * 100).toFixed(0)}%, failures ${failures} ${JSON.stringify(errors)}` +
          (point.cgroup ? `; cgroup ${(point.cgroup.usageBytes / 1e6).toFixed(1)} MB (anonymous ${(point.cgroup.anonymousBytes / 1e6).toFixed(1)}, file ${(point.cgroup.fileBytes / 1e6).toFixed(1)}, kernel ${(point.cgroup.kernelBytes / 1e6).toFixed(1)})` : ''),
      );
      if (stoppedBecause) break;
    }
    if (!stoppedBecause) stoppedBecause = `reached the target (${options.max})`;
    const settle = await settleMemory(g.proc.pid, options.settleSeconds, options.log);
    const settledHeapUsedBytes = settle.length > 0 ? (await gatewayMetrics(g)).heapUsedBytes : null;
    if (options.holdSeconds > 0) {
      options.log(`  holding ${held.length} attachments for ${options.holdSeconds} s (gateway pid ${g.proc.pid})`);
      await sleep(options.holdSeconds * 1000);
    }
    const probed = await probe(held, 1_000);
    options.log(`  probe: ${probed.echoed}/${probed.sent} attachments echoed a frame through the splice in ${probed.ms.toFixed(0)} ms`);

    const droppedWhileHeld = dropped;
    const memoryLimit = cgroup ? { limitBytes: cgroup.limitBytes, final: cgroup.read() } : null;
    // Shutdown as in production (SIGTERM: a 4000 close to every attachment), timed.
    await redis.quit();
    redis = null;
    const shutdownStart = performance.now();
    const gone = new Promise<void>((resolve) => (g.proc.exited() ? resolve() : g.proc.child.once('exit', () => resolve())));
    g.proc.child.kill('SIGTERM');
    let timer: NodeJS.Timeout | undefined;
    const killed = await Promise.race([gone.then(() => false), new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(true), 30_000)))]);
    clearTimeout(timer);
    const shutdown = { seconds: (performance.now() - shutdownStart) / 1000, killed };
    // The session's real agent is detached; gateway.stop() ends it (by its data directory).
    await gateway.stop();
    gateway = null;
    const profile = options.profileDir ? await newestProfile(options.profileDir) : null;
    return {
      target: options.max,
      reached: checkpoints.at(-1)?.attachments ?? 0,
      stoppedBecause,
      errors,
      dropped: droppedWhileHeld,
      baselineRssKiB,
      checkpoints,
      settle,
      settledHeapUsedBytes,
      probe: probed,
      shutdown,
      sources: options.sources,
      window: options.window,
      fileLimit: effectiveFileLimit(),
      gatewayNodeFlags: options.gatewayNodeFlags,
      proxyCore: options.proxyCore,
      released,
      fit: fitLine(checkpoints),
      gatewayProfile: profile,
      memoryLimit,
    };
  } finally {
    for (let i = 0; i < held.length; i++) {
      held[i]!.socket.destroy();
      if (i % 5_000 === 4_999) await sleep(0);
    }
    await redis?.quit().catch(() => undefined);
    await gateway?.stop();
    await upstream?.stop();
    await redisProc?.stop();
    try {
      cgroup?.remove();
    } catch (error) {
      options.log(`  could not remove the memory cgroup: ${(error as Error).message}`);
    }
    if (limitedDataDir) await rm(limitedDataDir, { recursive: true, force: true });
  }
}
