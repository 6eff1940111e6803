// The gateway as it is deployed at scale (issue 15): N replicas of `cloudterm gateway` sharing
// one real redis-server, terminals standing in for agents (gateway-upstream.ts --resume, which
// keeps each session's output offset) spread over several processes, and browsers spread over
// several client processes (gateway-scale-client.ts) opening attachments round-robin across the
// replicas, as a Service would. Every process here may hold only 20,000 descriptors (a replica
// needs two per attachment), so the load is spread by design, not for convenience.
//
//   npm run bench -- gateway scale [--replicas 12] [--attachments 100000] [options]
//
// Phases: fill and hold (open time, each replica's RSS and CPU, Redis memory and commands/s,
// the kernel's socket memory, an echo sample while all are held); a replica SIGKILLed and its
// attachments back on the others, resumed from their offsets; the same with SIGTERM (the 4000
// close); the reaper of several replicas racing over expiring sessions.
import { readFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import bcrypt from 'bcrypt';
import { Redis } from 'ioredis';
import { generateSigningKeyPair } from '../core/src/keys/key-pair.js';
import { RedisSessionStore } from '../gateway/src/store/redis-store.js';
import type { SessionRecord } from '../gateway/src/store/types.js';
import {
  BENCH_PASSWORD,
  BENCH_USER,
  GATEWAY_ENTRY,
  REPO_ROOT,
  SHELL_ENV,
  cpuSeconds,
  ensureBuilt,
  fixed,
  freePort,
  killAgentsOf,
  machine,
  metricValue,
  openFiles,
  percentile,
  rssKiB,
  rssPartsKiB,
  sleep,
  startProc,
  startRedisProc,
  table,
  waitForPort,
  type Proc,
} from './gateway-support.js';
import { intOption } from './lib/options.js';
import { STREAM_PREFIX } from './lib/stand-in-output.js';
import type { ParentMessage, WorkerConfig, WorkerStatus } from './gateway-scale-client.js';

interface Options {
  readonly replicas: number;
  readonly attachments: number;
  readonly clients: number;
  readonly upstreams: number;
  /** Handshakes in flight at once, over all client processes. */
  readonly window: number;
  /** Sessions (one attachment each) whose stand-in streams a known pattern, checked byte for byte. */
  readonly streaming: number;
  /** Sessions with a real agent (created through the API: a PTY in a terminal host), one attachment each. */
  readonly real: number;
  readonly echo: number;
  readonly settleSeconds: number;
  readonly phases: ReadonlySet<string>;
  readonly reaperSessions: number;
  readonly reaperReplicas: number;
  readonly gatewayNodeFlags: readonly string[];
  readonly label: string | null;
}

const PHASES = ['hold', 'kill', 'term', 'reaper'] as const;

function parseOptions(argv: readonly string[]): Options {
  const { values } = parseArgs({
    args: [...argv],
    allowPositionals: true,
    options: {
      replicas: { type: 'string', default: '12' },
      attachments: { type: 'string', default: '100000' },
      clients: { type: 'string', default: '8' },
      upstreams: { type: 'string', default: '8' },
      window: { type: 'string', default: '128' },
      streaming: { type: 'string', default: '1000' },
      real: { type: 'string', default: '20' },
      echo: { type: 'string', default: '1000' },
      settle: { type: 'string', default: '30' },
      phases: { type: 'string', default: PHASES.join(',') },
      'reaper-sessions': { type: 'string', default: '10000' },
      'reaper-replicas': { type: 'string', default: '10' },
      'gateway-node-flags': { type: 'string', default: '' },
      label: { type: 'string' },
    },
  });
  const phases = new Set(values.phases.split(',').filter(Boolean));
  for (const phase of phases) if (!(PHASES as readonly string[]).includes(phase)) throw new TypeError(`--phases takes ${PHASES.join(',')}, got ${phase}`);
  const options: Options = {
    replicas: intOption('replicas', values.replicas, 2, 64),
    attachments: intOption('attachments', values.attachments, 1, 1_000_000),
    clients: intOption('clients', values.clients, 1, 60),
    upstreams: intOption('upstreams', values.upstreams, 1, 64),
    window: intOption('window', values.window, 1, 8192),
    streaming: intOption('streaming', values.streaming, 0, 1_000_000),
    real: intOption('real', values.real, 0, 1_000),
    echo: intOption('echo', values.echo, 0, 100_000),
    settleSeconds: intOption('settle', values.settle, 0, 600),
    phases,
    reaperSessions: intOption('reaper-sessions', values['reaper-sessions'], 1, 1_000_000),
    reaperReplicas: intOption('reaper-replicas', values['reaper-replicas'], 1, 64),
    gatewayNodeFlags: values['gateway-node-flags'].split(' ').filter(Boolean),
    label: values.label ?? null,
  };
  // Descriptors: each process is held under the 20,000 of this machine, with room to spare.
  const perClient = Math.ceil(options.attachments / options.clients);
  const perUpstream = Math.ceil(options.attachments / options.upstreams);
  if (perClient > 18_000) throw new TypeError(`--clients ${options.clients}: ${perClient} sockets each, over a process's 20,000 descriptors with room; give more`);
  if (perUpstream > 18_000) throw new TypeError(`--upstreams ${options.upstreams}: ${perUpstream} sockets each, too many for one process; give more`);
  if (options.streaming > options.attachments) throw new TypeError('--streaming is at most --attachments');
  return options;
}

// ---------------------------------------------------------------------------------------------
// The processes

interface Replica {
  readonly index: number;
  readonly port: number;
  readonly dataDir: string;
  proc: Proc;
}

interface Keys {
  readonly dir: string;
  readonly args: readonly string[];
}

async function writeSharedFiles(dir: string): Promise<Keys> {
  const args: string[] = [];
  for (const name of ['token', 'attach']) {
    const pair = await generateSigningKeyPair();
    await writeFile(join(dir, `${name}.key`), pair.privateKeyPem, { mode: 0o600 });
    await writeFile(join(dir, `${name}.pub`), pair.publicKeyPem);
    args.push(`--${name}-key-file`, join(dir, `${name}.key`), `--${name}-public-key-file`, join(dir, `${name}.pub`));
  }
  const usersFile = join(dir, 'users.htpasswd');
  await writeFile(usersFile, `${BENCH_USER}:${await bcrypt.hash(BENCH_PASSWORD, 4)}\n`, { mode: 0o600 });
  args.push('--users-file', usersFile);
  return { dir, args };
}

async function startReplica(index: number, port: number, redisUrl: string, keys: Keys, nodeFlags: readonly string[], logLevel = 'warn'): Promise<Replica> {
  const dataDir = join(keys.dir, `replica-${index}`);
  await mkdir(dataDir, { recursive: true, mode: 0o700 });
  const args = [
    ...nodeFlags,
    GATEWAY_ENTRY,
    'gateway',
    '--listen', `127.0.0.1:${port}`,
    '--redis-url', redisUrl,
    ...keys.args,
    '--data-dir', dataDir,
    '--log-level', logLevel,
    // One bench user holds every attachment and session: the per-user caps are not what is measured.
    '--max-attachments-per-user', '1000000',
    '--max-sessions-per-user', '10000',
    '--shell', '/bin/sh',
  ];
  const proc = startProc(`gateway ${index}`, process.execPath, args, { env: { ...SHELL_ENV, HOME: dataDir } });
  await waitForPort(port, 30_000, proc);
  return { index, port, dataDir, proc };
}

async function login(port: number): Promise<string> {
  const url = `http://127.0.0.1:${port}`;
  const response = await fetch(`${url}/api/login`, {
    method: 'POST',
    headers: { origin: url, 'content-type': 'application/json' },
    body: JSON.stringify({ username: BENCH_USER, password: BENCH_PASSWORD }),
  });
  const cookie = response.headers.get('set-cookie')?.split(';')[0];
  if (response.status !== 200 || !cookie) throw new Error(`login: ${response.status} ${await response.text()}`);
  return cookie;
}

async function replicaMetrics(replica: Replica): Promise<{ attachments: number | null; reaped: number | null }> {
  try {
    const text = await (await fetch(`http://127.0.0.1:${replica.port}/metrics`)).text();
    return { attachments: metricValue(text, 'cloudterm_gateway_attachments'), reaped: metricValue(text, 'cloudterm_gateway_reaped_sessions_total') };
  } catch {
    return { attachments: null, reaped: null };
  }
}

/** A client process and a way to ask it something and wait for its answer of a given type. */
interface Worker {
  readonly proc: Proc;
  ask<T>(message: ParentMessage, answer: string): Promise<T>;
}

function startWorker(index: number): Worker {
  const proc = startProc(`client ${index}`, process.execPath, ['--import', 'tsx', join(REPO_ROOT, 'bench/gateway-scale-client.ts')], { ipc: true });
  const waiting = new Map<string, Array<(value: unknown) => void>>();
  proc.child.on('message', (message: { type: string }) => {
    const queue = waiting.get(message.type);
    queue?.shift()?.(message);
  });
  const failures: Array<(error: Error) => void> = [];
  proc.child.once('exit', () => {
    for (const fail of failures) fail(new Error(`client ${index} exited: ${proc.output().slice(-500)}`));
  });
  return {
    proc,
    ask: <T>(message: ParentMessage, answer: string) =>
      new Promise<T>((resolve, reject) => {
        if (proc.exited()) return reject(new Error(`client ${index} exited: ${proc.output().slice(-500)}`));
        const queue = waiting.get(answer) ?? [];
        queue.push(resolve as (value: unknown) => void);
        waiting.set(answer, queue);
        failures.push(reject);
        proc.child.send(message);
      }),
  };
}

// ---------------------------------------------------------------------------------------------
// Readings

interface RedisReading {
  readonly usedMemoryBytes: number;
  readonly rssBytes: number;
  readonly keys: number;
  readonly commands: number;
}

async function redisReading(redis: Redis): Promise<RedisReading> {
  const info = await redis.info();
  const field = (name: string) => Number(new RegExp(`^${name}:(\\d+)`, 'm').exec(info)?.[1] ?? Number.NaN);
  return { usedMemoryBytes: field('used_memory'), rssBytes: field('used_memory_rss'), keys: await redis.dbsize(), commands: field('total_commands_processed') };
}

/** The kernel's TCP sockets and their memory (pages of 4 KiB), and the unix sockets. */
function sockstat(): { tcpInUse: number; tcpMemKiB: number; tcpTimeWait: number; unixSockets: number } {
  const text = readFileSync('/proc/net/sockstat', 'utf8');
  const tcp = /^TCP: inuse (\d+) orphan \d+ tw (\d+) alloc \d+ mem (\d+)/m.exec(text);
  const unix = readFileSync('/proc/net/unix', 'utf8').split('\n').length - 2;
  return { tcpInUse: Number(tcp?.[1]), tcpTimeWait: Number(tcp?.[2]), tcpMemKiB: Number(tcp?.[3]) * 4, unixSockets: unix };
}

interface ReplicaReading {
  readonly index: number;
  readonly attachments: number | null;
  readonly rssKiB: number;
  readonly anonKiB: number;
  readonly fileKiB: number;
  readonly openFiles: number;
}

async function readReplica(replica: Replica): Promise<ReplicaReading> {
  const parts = rssPartsKiB(replica.proc.pid);
  return {
    index: replica.index,
    attachments: (await replicaMetrics(replica)).attachments,
    rssKiB: rssKiB(replica.proc.pid),
    anonKiB: parts.anonymous,
    fileKiB: parts.file,
    openFiles: openFiles(replica.proc.pid),
  };
}

function merge(statuses: readonly WorkerStatus[]) {
  const sum = (pick: (s: WorkerStatus) => number) => statuses.reduce((n, s) => n + pick(s), 0);
  const tables = (pick: (s: WorkerStatus) => Record<string, number>) => {
    const out: Record<string, number> = {};
    for (const s of statuses) for (const [k, v] of Object.entries(pick(s))) out[k] = (out[k] ?? 0) + v;
    return out;
  };
  return {
    total: sum((s) => s.total),
    open: sum((s) => s.open),
    dropped: sum((s) => s.dropped),
    back: sum((s) => s.back),
    failedAttempts: sum((s) => s.failedAttempts),
    lost: sum((s) => s.lost),
    doubled: sum((s) => s.doubled),
    streamChecked: sum((s) => s.streamChecked),
    streamWrong: sum((s) => s.streamWrong),
    realLines: sum((s) => s.realLines),
    realMissing: sum((s) => s.realMissing),
    realTwice: sum((s) => s.realTwice),
    errors: tables((s) => s.errors),
    closeCodes: tables((s) => s.closeCodes),
    lastBackAt: Math.max(...statuses.map((s) => s.lastBackAt)),
    backMs: statuses.flatMap((s) => s.backMs).sort((a, b) => a - b),
    clientRssKiB: statuses.map((s) => s.rssKiB),
  };
}

type Merged = ReturnType<typeof merge>;

const ms = (n: number) => fixed(n, 3);
const mb = (bytes: number) => fixed(bytes / 1e6, 1);

// ---------------------------------------------------------------------------------------------
// The run

export async function runScale(argv: readonly string[]): Promise<number> {
  const options = parseOptions(argv);
  ensureBuilt();
  const log = (line: string) => process.stderr.write(`${new Date().toISOString().slice(11, 19)} ${line}\n`);
  const results: Record<string, unknown> = {
    date: new Date().toISOString(),
    machine: machine(),
    command: `npm run bench -- gateway scale ${argv.join(' ')}`.trim(),
    options: { ...options, phases: [...options.phases] },
    loadBefore: loadavg()[0]!,
  };
  const lines: string[] = [];
  const say = (line: string) => {
    lines.push(line);
    log(line);
  };

  const dir = await mkdtemp(join(tmpdir(), 'ctbench-scale-'));
  let redisProc: Proc | null = null;
  let redis: Redis | null = null;
  const upstreams: Proc[] = [];
  const replicas: Replica[] = [];
  const workers: Worker[] = [];
  try {
    const keys = await writeSharedFiles(dir);
    const started = await startRedisProc();
    redisProc = started.proc;
    redis = new Redis(started.url);
    const store = new RedisSessionStore(redis);

    // Stand-ins: sessions are spread over them by index.
    const sockets = Array.from({ length: options.upstreams }, (_, k) => join(dir, `stand-in-${k}.sock`));
    for (const [k, path] of sockets.entries()) {
      upstreams.push(startProc(`stand-in ${k}`, process.execPath, ['--import', 'tsx', join(REPO_ROOT, 'bench/gateway-upstream.ts'), path, '--resume']));
    }
    for (const upstream of upstreams) {
      for (let i = 0; !upstream.output().includes('ready'); i++) {
        if (upstream.exited() || i > 400) throw new Error(`${upstream.name} did not start: ${upstream.output()}`);
        await sleep(50);
      }
    }

    const now = Date.now();
    const record = (id: string, endpoint: string, expiresAt: number): SessionRecord => ({
      id,
      name: 'scale',
      owner: BENCH_USER,
      tenant: 'default',
      endpoint,
      pid: null,
      state: 'running',
      createdAt: now,
      expiresAt,
      maxExpiresAt: expiresAt,
      idleTimeoutMs: 3_600_000,
      shares: {},
      recorded: false,
    });
    // One session per attachment, as every browser tab with a terminal of its own.
    const ids = Array.from({ length: options.attachments }, (_, i) => (i < options.streaming ? `${STREAM_PREFIX}${i}` : `sc-${i}`));
    const ports = await Promise.all(Array.from({ length: options.replicas }, () => freePort()));
    for (const [i, port] of ports.entries()) replicas.push(await startReplica(i, port, started.url, keys, options.gatewayNodeFlags));
    say(`${replicas.length} replicas up (pids ${replicas.map((r) => r.proc.pid).join(' ')})`);
    const idle = await Promise.all(replicas.map(readReplica));
    const cookie = await login(ports[0]!);
    // Real agents: sessions made through the API on replica 0 (its terminal hosts, detached
    // processes, outlive any replica); they take the place of as many light ones.
    const real: string[] = [];
    for (let i = 0; i < options.real; i++) {
      const url = `http://127.0.0.1:${ports[0]}`;
      const response = await fetch(`${url}/api/sessions`, { method: 'POST', headers: { origin: url, cookie, 'content-type': 'application/json' }, body: '{"name":"real"}' });
      const created = (await response.json()) as { id?: string };
      if (response.status !== 201 || !created.id) throw new Error(`create a real session: ${response.status} ${JSON.stringify(created)}`);
      real.push(created.id);
      ids[ids.length - 1 - i] = created.id;
    }
    if (real.length > 0) say(`${real.length} real sessions (agents with a PTY) in place of as many light ones`);
    // After the real ones: the per-user session cap (at most 10,000) counts what is in Redis.
    const createStart = performance.now();
    for (let i = 0; i < ids.length; i += 2_000) {
      await Promise.all(ids.slice(i, i + 2_000).filter((id) => !real.includes(id)).map((id, j) => store.create(record(id, `unix:${sockets[(i + j) % sockets.length]}`, now + 6 * 3_600_000), 10_000_000)));
    }
    say(`${ids.length} session records written to Redis in ${((performance.now() - createStart) / 1000).toFixed(1)} s`);

    // Client processes, each with two source addresses of its own (~28K ports each).
    for (let c = 0; c < options.clients; c++) workers.push(startWorker(c));
    const per = Math.ceil(ids.length / options.clients);
    await Promise.all(
      workers.map((worker, c) => {
        const config: WorkerConfig = {
          ports,
          cookie,
          sources: [`127.0.0.${10 + 2 * c}`, `127.0.0.${11 + 2 * c}`],
          attachments: ids.slice(c * per, (c + 1) * per).map((id, j) => [id, (c * per + j) % ports.length] as const),
          window: Math.max(1, Math.round(options.window / options.clients)),
          directSocket: sockets[c % sockets.length]!,
          real,
        };
        return worker.ask({ type: 'config', config }, 'configured');
      }),
    );
    const status = async (): Promise<Merged> => merge(await Promise.all(workers.map((w) => w.ask<WorkerStatus>({ type: 'status' }, 'status'))));

    // ---- fill and hold
    const cpuBefore = replicas.map((r) => cpuSeconds(r.proc.pid));
    const redisBefore = await redisReading(redis);
    const fillStart = performance.now();
    const progress = setInterval(() => {
      void status().then((s) => log(`  ${s.open} open, ${s.failedAttempts} failed attempts ${JSON.stringify(s.errors)}`), () => undefined);
    }, 10_000);
    const opened = await Promise.all(workers.map((w) => w.ask<{ firstOpenMs: number[]; seconds: number }>({ type: 'open' }, 'opened')));
    clearInterval(progress);
    const fillSeconds = (performance.now() - fillStart) / 1000;
    const redisAfterFill = await redisReading(redis);
    const cpuShare = replicas.map((r, i) => (cpuSeconds(r.proc.pid) - cpuBefore[i]!) / fillSeconds);
    const openMs = opened.flatMap((o) => o.firstOpenMs).sort((a, b) => a - b);
    const afterFill = await status();
    const fill = {
      seconds: fillSeconds,
      perSecond: ids.length / fillSeconds,
      openP50Ms: percentile(openMs, 50),
      openP99Ms: percentile(openMs, 99),
      failedAttempts: afterFill.failedAttempts,
      errors: afterFill.errors,
      redisCommandsPerSecond: (redisAfterFill.commands - redisBefore.commands) / fillSeconds,
      redisCommandsPerAttach: (redisAfterFill.commands - redisBefore.commands) / ids.length,
      replicaCpuShare: cpuShare,
      loadAverage: loadavg()[0]!,
    };
    results.fill = fill;
    say(
      `opened ${afterFill.open}/${ids.length} in ${fillSeconds.toFixed(1)} s = ${fill.perSecond.toFixed(0)} handshakes/s; one: p50 ${fixed(fill.openP50Ms, 1)} ms, p99 ${fixed(fill.openP99Ms, 1)} ms; ` +
        `${fill.failedAttempts} failed attempts ${JSON.stringify(fill.errors)}; Redis ${fill.redisCommandsPerSecond.toFixed(0)} commands/s (${fill.redisCommandsPerAttach.toFixed(2)} per attach); load ${fill.loadAverage.toFixed(1)}`,
    );

    if (options.settleSeconds > 0) {
      log(`  holding ${options.settleSeconds} s before reading memory (V8 gives back the heap of the burst)`);
      await sleep(options.settleSeconds * 1000);
    }
    const heldCommandsFrom = await redisReading(redis);
    const heldFrom = performance.now();
    await sleep(5_000);
    const redisHeld = await redisReading(redis);
    const held = await Promise.all(replicas.map(readReplica));
    const socketsHeld = sockstat();
    const hold = {
      replicas: held,
      idle: idle.map((r) => r.rssKiB),
      redis: redisHeld,
      redisCommandsPerSecondHeld: (redisHeld.commands - heldCommandsFrom.commands) / ((performance.now() - heldFrom) / 1000),
      sockstat: socketsHeld,
      clientRssKiB: (await status()).clientRssKiB,
      upstreamRssKiB: upstreams.map((u) => rssKiB(u.pid)),
    };
    results.hold = hold;
    say(
      table(
        ['replica', 'attachments', 'RSS idle MiB', 'RSS held MiB', 'own + files MiB', 'fds', 'CPU while filling'],
        held.map((r, i) => [
          String(r.index),
          String(r.attachments),
          fixed(idle[i]!.rssKiB / 1024),
          fixed(r.rssKiB / 1024),
          `${fixed(r.anonKiB / 1024)} + ${fixed(r.fileKiB / 1024)}`,
          String(r.openFiles),
          `${(cpuShare[i]! * 100).toFixed(0)}%`,
        ]),
      ),
    );
    say(
      `Redis: ${mb(redisHeld.usedMemoryBytes)} MB used (RSS ${mb(redisHeld.rssBytes)} MB), ${redisHeld.keys} keys, ${hold.redisCommandsPerSecondHeld.toFixed(0)} commands/s while held; ` +
        `kernel: TCP ${socketsHeld.tcpInUse} sockets, ${mb(socketsHeld.tcpMemKiB * 1024)} MB, ${socketsHeld.unixSockets} unix sockets; ` +
        `clients RSS ${hold.clientRssKiB.map((k) => fixed(k / 1024, 0)).join(' ')} MiB, stand-ins ${hold.upstreamRssKiB.map((k) => fixed(k / 1024, 0)).join(' ')} MiB`,
    );

    if (options.echo > 0) {
      const through: number[] = [];
      const direct: number[] = [];
      let failed = 0;
      for (const worker of workers) {
        const e = await worker.ask<{ through: number[]; direct: number[]; failed: number }>({ type: 'echo', count: Math.ceil(options.echo / workers.length) }, 'echo');
        through.push(...e.through);
        direct.push(...e.direct);
        failed += e.failed;
      }
      through.sort((a, b) => a - b);
      direct.sort((a, b) => a - b);
      const echo = {
        samples: through.length,
        failed,
        throughP50: percentile(through, 50),
        throughP99: percentile(through, 99),
        directP50: percentile(direct, 50),
        directP99: percentile(direct, 99),
        loadAverage: loadavg()[0]!,
      };
      results.echo = echo;
      say(
        `echo while all held, ${echo.samples} attachments one at a time (${failed} failed): through a replica p50 ${ms(echo.throughP50)} / p99 ${ms(echo.throughP99)} ms, ` +
          `straight to a stand-in p50 ${ms(echo.directP50)} / p99 ${ms(echo.directP99)} ms: added ${ms(echo.throughP50 - echo.directP50)} / ${ms(echo.throughP99 - echo.directP99)} ms; load ${echo.loadAverage.toFixed(1)}`,
      );
    }
    const verified = await status();
    // Both ends must agree: a socket the client holds open may have no splice behind it.
    const spliced = (await Promise.all(replicas.map(replicaMetrics))).reduce((n, m) => n + (m.attachments ?? 0), 0);
    results.verifiedHeld = { open: verified.open, spliced, of: ids.length };
    say(`verified: ${verified.open}/${ids.length} attachments open at the clients (hello received, socket open), ${spliced} spliced by the replicas' own count`);

    // ---- failover
    const failover = async (signal: 'SIGKILL' | 'SIGTERM', victim: Replica) => {
      for (const worker of workers) await worker.ask({ type: 'mark' }, 'marked');
      const before = (await replicaMetrics(victim)).attachments;
      const gone = new Promise<number>((resolve) => victim.proc.child.once('exit', () => resolve(performance.now())));
      const at = Date.now();
      const t0 = performance.now();
      process.kill(victim.proc.pid, signal);
      let s = await status();
      // back may exceed dropped: an attachment already down at the mark counts when it is back.
      while (performance.now() - t0 < 180_000 && !(s.dropped > 0 && s.open === ids.length && s.back >= s.dropped)) {
        await sleep(200);
        s = await status();
      }
      const exitedAfterMs = (await Promise.race([gone, sleep(30_000).then(() => Number.NaN)])) - t0;
      const others = await Promise.all(replicas.filter((r) => r !== victim).map(readReplica));
      const figures = {
        signal,
        victim: victim.index,
        victimHeld: before,
        dropped: s.dropped,
        back: s.back,
        open: s.open,
        allBackSeconds: (s.lastBackAt - at) / 1000,
        victimExitedAfterMs: exitedAfterMs,
        downToBackP50Ms: percentile(s.backMs, 50),
        downToBackP99Ms: percentile(s.backMs, 99),
        failedAttempts: s.failedAttempts,
        errors: s.errors,
        closeCodes: s.closeCodes,
        lost: s.lost,
        doubled: s.doubled,
        streamChecked: s.streamChecked,
        streamWrong: s.streamWrong,
        realLines: s.realLines,
        realMissing: s.realMissing,
        realTwice: s.realTwice,
        othersAttachments: others.map((r) => r.attachments),
        othersRssKiB: others.map((r) => r.rssKiB),
        loadAverage: loadavg()[0]!,
      };
      say(
        `${signal} replica ${victim.index} (held ${before}): ${figures.dropped} dropped, ${figures.back} back, ${figures.open}/${ids.length} open; every one back ${figures.allBackSeconds.toFixed(2)} s after the signal ` +
          `(each: p50 ${fixed(figures.downToBackP50Ms, 0)} / p99 ${fixed(figures.downToBackP99Ms, 0)} ms from its drop); victim gone after ${fixed(exitedAfterMs, 0)} ms; ` +
          `close codes ${JSON.stringify(figures.closeCodes)}; ${figures.failedAttempts} failed attempts ${JSON.stringify(figures.errors)}; ` +
          `bytes lost ${figures.lost}, doubled ${figures.doubled}, streamed bytes checked ${figures.streamChecked}, wrong ${figures.streamWrong}; ` +
          `real agents' lines ${figures.realLines}, missing ${figures.realMissing}, twice ${figures.realTwice}; ` +
          `the others now hold ${figures.othersAttachments.join(' ')} (max RSS ${fixed(Math.max(...figures.othersRssKiB) / 1024)} MiB); load ${figures.loadAverage.toFixed(1)}`,
      );
      // Its Deployment would start it again: same port, no attachments until new ones come.
      victim.proc = (await startReplica(victim.index, victim.port, started.url, keys, options.gatewayNodeFlags)).proc;
      return figures;
    };
    if (options.phases.has('kill')) results.kill = await failover('SIGKILL', replicas[1]!);
    if (options.phases.has('term')) results.term = await failover('SIGTERM', replicas[2 % replicas.length]!);
    const final = await status();
    results.final = final;
    say(
      `at the end: ${final.open}/${ids.length} open; bytes lost ${final.lost}, doubled ${final.doubled}; ${final.streamChecked} streamed bytes checked, ${final.streamWrong} wrong; ` +
        `real agents: ${final.realLines} numbered lines, ${final.realMissing} missing, ${final.realTwice} twice`,
    );
    for (const worker of workers) await worker.ask({ type: 'close' }, 'closed');

    // ---- the reaper, several replicas racing
    if (options.phases.has('reaper')) {
      const racing = replicas.slice(0, options.reaperReplicas);
      for (const extra of replicas.slice(options.reaperReplicas)) await extra.proc.stop(15_000);
      const reapedBefore = await Promise.all(racing.map(async (r) => (await replicaMetrics(r)).reaped ?? 0));
      const expiresAt = Date.now() + 3_000;
      const reapIds = Array.from({ length: options.reaperSessions }, (_, i) => `rp-${i}`);
      for (let i = 0; i < reapIds.length; i += 2_000) {
        await Promise.all(reapIds.slice(i, i + 2_000).map((id, j) => store.create(record(id, `unix:${sockets[(i + j) % sockets.length]}`, expiresAt), 10_000_000)));
      }
      let left = reapIds.length;
      while (left > 0 && Date.now() - expiresAt < 300_000) {
        await sleep(250);
        left = 0;
        for (let i = 0; i < reapIds.length; i += 5_000) left += await redis.exists(...reapIds.slice(i, i + 5_000).map((id) => `cloudterm:session:${id}`));
      }
      const doneAfter = (Date.now() - expiresAt) / 1000;
      const reapedAfter = await Promise.all(racing.map(async (r) => (await replicaMetrics(r)).reaped ?? 0));
      const perReplica = reapedAfter.map((n, i) => n - reapedBefore[i]!);
      const reaper = {
        replicas: racing.length,
        sessions: reapIds.length,
        left,
        secondsAfterExpiry: doneAfter,
        perReplica,
        total: perReplica.reduce((a, b) => a + b, 0),
      };
      results.reaper = reaper;
      say(
        `reaper: ${reaper.replicas} replicas, ${reaper.sessions} sessions expiring at once: ${reaper.sessions - left} ended, ${left} left, ${doneAfter.toFixed(1)} s after expiry; ` +
          `ended by each replica ${perReplica.join(' ')} = ${reaper.total} (${reaper.total === reaper.sessions - left ? 'each exactly once' : 'NOT once each'})`,
      );
    }
  } finally {
    for (const worker of workers) await worker.proc.stop(5_000);
    for (const replica of replicas) await replica.proc.stop(15_000);
    // The real sessions' terminal hosts are detached (they outlive a gateway, like tmux).
    for (const replica of replicas) killAgentsOf(replica.dataDir);
    for (const upstream of upstreams) await upstream.stop();
    await redis?.quit().catch(() => undefined);
    await redisProc?.stop();
    await rm(dir, { recursive: true, force: true });
  }
  results.loadAfter = loadavg()[0];
  const out = join(REPO_ROOT, 'bench/results');
  await mkdir(out, { recursive: true });
  const file = join(out, `gateway-scale-${String(results.date).slice(0, 10)}${options.label ? `-${options.label}` : ''}.json`);
  await writeFile(file, `${JSON.stringify({ ...results, lines }, null, 2)}\n`);
  process.stdout.write(`${lines.join('\n')}\n`);
  log(`wrote ${file}`);
  return 0;
}
