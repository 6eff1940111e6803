// The gateway benchmark: what the gateway adds to a terminal (echo latency, throughput), how many
// attachments one gateway process holds and its memory, and its static assets beside nginx.
//
//   node --import tsx bench/gateway.ts [latency|throughput|concurrency|static|all] [options]
//   node --import tsx bench/gateway.ts scale [options]   (replicas sharing Redis: gateway-scale.ts)
//
// Prints tables and writes bench/results/gateway-<date>[-<part>].json. The gateway always runs
// from dist/ (build first: npx tsc -p tsconfig.build.json) as its own process.
import { execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { loadavg, setPriority, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import { intOption } from './lib/options.js';
import { measureEcho, type EchoFigures } from './gateway-echo.js';
import { measureConcurrency, type ConcurrencyFigures } from './gateway-concurrency.js';
import { NGINX_HEADERS, measureStatic, type NginxHeaders, type StaticFigures } from './gateway-static.js';
import { runScale } from './gateway-scale.js';
import { summarizeProfile, type ProfileSummary } from './gateway-profile.js';
import { REPO_ROOT, ensureBuilt, fixed, killAllStarted, machine, mib, pm, table, type Machine } from './gateway-support.js';

const PARTS = ['latency', 'throughput', 'concurrency', 'static'] as const;
type Part = (typeof PARTS)[number];

interface Options {
  readonly parts: readonly Part[];
  readonly runs: number;
  readonly samples: number;
  readonly warmup: number;
  readonly max: number;
  readonly sources: number;
  readonly window: number;
  readonly deadlineSeconds: number;
  readonly staticSeconds: number;
  readonly staticRuns: number;
  readonly nginxWorkers: readonly number[];
  readonly nginxHeaders: readonly NginxHeaders[];
  readonly profile: boolean;
  /** Scheduling priority of this process and so of everything it starts (they inherit it). */
  readonly nice: number;
  readonly gatewayNodeFlags: readonly string[];
  /** The gateway's --proxy-core (native or js). */
  readonly proxyCore: 'native' | 'js';
  readonly settleSeconds: number;
  readonly holdSeconds: number;
  /** Concurrency: run the gateway in a memory cgroup limited to this many MB (10^6 bytes). */
  readonly memoryLimitMB: number | null;
  readonly label: string | null;
}

function parseOptions(argv: readonly string[]): Options {
  const { values, positionals } = parseArgs({
    args: [...argv],
    allowPositionals: true,
    options: {
      runs: { type: 'string', default: '3' },
      samples: { type: 'string', default: '2000' },
      warmup: { type: 'string', default: '200' },
      max: { type: 'string', default: '100000' },
      sources: { type: 'string', default: '8' },
      window: { type: 'string', default: '256' },
      deadline: { type: 'string', default: '480' },
      'static-seconds': { type: 'string', default: '10' },
      'static-runs': { type: 'string', default: '2' },
      'nginx-workers': { type: 'string', default: '1,2' },
      'nginx-headers': { type: 'string', default: 'plain,page' },
      profile: { type: 'boolean', default: false },
      nice: { type: 'string', default: '-10' },
      'gateway-node-flags': { type: 'string', default: '' },
      'proxy-core': { type: 'string', default: 'native' },
      settle: { type: 'string', default: '120' },
      hold: { type: 'string', default: '0' },
      'memory-limit': { type: 'string' },
      label: { type: 'string' },
    },
  });
  const what = positionals[0] ?? 'all';
  if (what !== 'all' && !PARTS.includes(what as Part)) throw new TypeError(`unknown part ${what}: one of ${PARTS.join(', ')}, all`);
  const max = intOption('max', values.max, 1, 1_000_000);
  const proxyCore = values['proxy-core'];
  if (proxyCore !== 'native' && proxyCore !== 'js') throw new TypeError('--proxy-core is native or js');
  const sources = intOption('sources', values.sources, 1, 250);
  if (sources * 28_000 < max) throw new TypeError(`--sources ${sources} gives ~${sources * 28_000} ports: too few for --max ${max}`);
  return {
    parts: what === 'all' ? PARTS : [what as Part],
    runs: intOption('runs', values.runs, 1, 20),
    samples: intOption('samples', values.samples, 10, 100_000),
    warmup: intOption('warmup', values.warmup, 0, 10_000),
    max,
    sources,
    window: intOption('window', values.window, 1, 4096),
    deadlineSeconds: intOption('deadline', values.deadline, 10, 3600),
    staticSeconds: intOption('static-seconds', values['static-seconds'], 1, 120),
    staticRuns: intOption('static-runs', values['static-runs'], 1, 10),
    nginxWorkers: values['nginx-workers'].split(',').map((w) => intOption('nginx-workers', w, 1, 64)),
    nginxHeaders: values['nginx-headers'].split(',').map((h) => {
      if (!(NGINX_HEADERS as readonly string[]).includes(h)) throw new TypeError(`--nginx-headers takes ${NGINX_HEADERS.join(', ')}, got ${h}`);
      return h as NginxHeaders;
    }),
    profile: values.profile,
    nice: intOption('nice', values.nice, -20, 19),
    gatewayNodeFlags: values['gateway-node-flags'].split(' ').filter(Boolean),
    proxyCore,
    settleSeconds: intOption('settle', values.settle, 0, 600),
    holdSeconds: intOption('hold', values.hold, 0, 600),
    memoryLimitMB: values['memory-limit'] === undefined ? null : intOption('memory-limit', values['memory-limit'], 40, 100_000),
    label: values.label ?? null,
  };
}

interface Results {
  readonly date: string;
  readonly machine: Machine;
  readonly command: string;
  /** The commit measured, and whether the working tree differed from it (dist/ was built from the tree). */
  readonly commit: string;
  readonly options: Options;
  echo?: EchoFigures;
  concurrency?: ConcurrencyFigures;
  static?: StaticFigures;
  profiles?: Record<string, ProfileSummary>;
  /** The machine's 1-minute load average around each part: other work on the machine shows here. */
  readonly load: Record<string, { before: number; after: number }>;
}

const ms = (n: number) => fixed(n, 3);
const us = (n: number) => fixed(n * 1000, 0);

function echoTables(e: EchoFigures, parts: readonly Part[]): string {
  const out: string[] = [];
  if (parts.includes('latency')) {
    const row = (name: string, f: EchoFigures['direct']) => {
      const p50s = f.echoRuns.map((r) => r.p50);
      const p99s = f.echoRuns.map((r) => r.p99);
      const half = (v: number[]) => (Math.max(...v) - Math.min(...v)) / 2;
      return [name, String(f.echo.samples), `${ms(f.echo.p50)} ± ${ms(half(p50s))}`, ms(f.echo.p90), `${ms(f.echo.p99)} ± ${ms(half(p99s))}`, ms(f.echo.max), ms(f.echo.mean), fixed(1000 / f.echo.mean, 0)];
    };
    out.push(
      `Keystroke echo (ms; ${e.runs} runs × ${e.samplesPerRun} samples after ${e.warmup} warm-up; ± = half the range of the runs' p50/p99)`,
      table(
        ['path', 'samples', 'p50', 'p90', 'p99', 'max', 'mean', 'echoes/s'],
        [
          row('straight to the agent', e.direct),
          row('through the gateway', e.gateway),
          ['added by the gateway', '', `${ms(e.addedMs.p50)} (${us(e.addedMs.p50)} µs)`, '', `${ms(e.addedMs.p99)} (${us(e.addedMs.p99)} µs)`, ms(e.addedMs.max), '', ''],
        ],
      ),
    );
  }
  if (parts.includes('throughput')) {
    const cpu = (f: EchoFigures['direct'], key: 'gateway' | 'agent' | 'client') => {
      const values = f.throughputRuns.map((r) => r.cpu[key]).filter((v): v is number => v !== null);
      return values.length ? `${fixed((values.reduce((a, b) => a + b, 0) / values.length) * 100, 0)}%` : '—';
    };
    out.push(
      '',
      `Output throughput (200 MB of 'a' through the PTY; ${e.runs} runs each after one warm-up run; CPU = CPU s per wall s)`,
      table(
        ['path', 'MB/s', '% of direct', 'gateway CPU', 'agent CPU', 'client CPU'],
        [
          ['straight to the agent', pm(e.direct.throughput), '100%', '—', cpu(e.direct, 'agent'), cpu(e.direct, 'client')],
          ['through the gateway', pm(e.gateway.throughput), `${fixed(e.throughputShare * 100, 1)}%`, cpu(e.gateway, 'gateway'), cpu(e.gateway, 'agent'), cpu(e.gateway, 'client')],
        ],
      ),
    );
  }
  return out.join('\n');
}

function memoryLimitLine({ limitBytes, final }: NonNullable<ConcurrencyFigures['memoryLimit']>, points: ConcurrencyFigures['checkpoints']): string {
  const mb = (bytes: number) => fixed(bytes / 1e6, 1);
  const rows = points.flatMap((p) => (p.cgroup ? [`${p.attachments}: ${mb(p.cgroup.usageBytes)} / ${mb(p.cgroup.anonymousBytes)} / ${mb(p.cgroup.fileBytes)} / ${mb(p.cgroup.kernelBytes)}`] : []));
  return (
    `Memory cgroup limit ${mb(limitBytes)} MB (the gateway from a private copy of node, in the cgroup from its start): ` +
    `charged usage / anonymous / file pages / kernel MB at each row — ${rows.join('; ')}. Peak ${mb(final.peakBytes)} MB; ` +
    `OOM kills ${final.oomKills}.`
  );
}

/** What the gateway's memory settled to, every attachment held and idle, after the burst. */
function settleLine(c: ConcurrencyFigures): string {
  const first = c.settle[0]!;
  const last = c.settle.at(-1)!;
  const lowest = c.settle.reduce((low, s) => (s.rssKiB < low.rssKiB ? s : low));
  const heap = c.settledHeapUsedBytes === null ? '' : ` (heap in use ${fixed(c.settledHeapUsedBytes / 2 ** 20, 1)} MiB)`;
  return (
    `Settled, ${c.reached} attachments held and idle: RSS ${mib(first.rssKiB)} MiB right after the last row, ` +
    `${mib(last.rssKiB)} MiB = ${mib(last.anonKiB)} own + ${mib(last.fileKiB)} files after ${fixed(last.seconds, 0)} s${heap}; ` +
    `lowest ${mib(lowest.rssKiB)} MiB at ${fixed(lowest.seconds, 0)} s.`
  );
}

function concurrencyTables(c: ConcurrencyFigures): string {
  return [
    `Concurrent attachments held by one gateway process (light upstream; ${c.sources} source addresses, ${c.window} handshakes in flight${c.gatewayNodeFlags.length ? `; gateway flags ${c.gatewayNodeFlags.join(' ')}` : ''}; proxy core ${c.proxyCore})`,
    table(
      ['attachments', 'gateway says', 'upstream holds', 'gateway RSS MiB', 'own / files MiB', 'heap used MiB', 'external MiB', 'KiB/attachment', 'gateway fds', 'attach/s', 'gateway CPU', 'elapsed s'],
      c.checkpoints.map((p) => [
        String(p.attachments),
        String(p.gatewayReports ?? '—'),
        String(p.upstreamOpen ?? '—'),
        mib(p.gatewayRssKiB),
        `${mib(p.gatewayRssAnonKiB)} / ${mib(p.gatewayRssFileKiB)}`,
        p.heapUsedBytes === null ? '—' : fixed(p.heapUsedBytes / 2 ** 20, 1),
        p.externalBytes === null ? '—' : fixed(p.externalBytes / 2 ** 20, 1),
        fixed((p.gatewayRssKiB - c.baselineRssKiB) / Math.max(1, p.attachments), 2),
        String(p.gatewayOpenFiles),
        fixed(p.attachRate, 0),
        `${fixed(p.gatewayCpuShare * 100, 0)}%`,
        fixed(p.elapsedSeconds, 1),
      ]),
    ),
    `RSS at 0 attachments: ${mib(c.baselineRssKiB)} MiB. Open-files limit of every process: ${c.fileLimit}. Reached ${c.reached + c.released} of ${c.target}: ${c.stoppedBecause}.` +
      (c.released ? ` (${c.released} were closed before the last row so the gateway had descriptors to answer /metrics.)` : ''),
    ...(c.fit
      ? [
          `Linear fit of RSS over the rows: ${fixed(c.fit.kibPerAttachment, 2)} KiB per attachment + ${mib(c.fit.interceptKiB)} MiB; projected (not measured) RSS: ` +
            Object.entries(c.fit.projectedRssKiB).map(([n, kib]) => `${n}: ${mib(kib)} MiB`).join(', '),
        ]
      : []),
    ...(c.settle.length > 0 ? [settleLine(c)] : []),
    ...(c.memoryLimit ? [memoryLimitLine(c.memoryLimit, c.checkpoints)] : []),
    `Failed handshakes: ${JSON.stringify(c.errors)}; dropped while held: ${c.dropped}; probe: ${c.probe.echoed}/${c.probe.sent} echoed through the splice in ${fixed(c.probe.ms, 0)} ms.`,
    `Shutdown (SIGTERM, a 4000 close to every attachment): ${fixed(c.shutdown.seconds, 1)} s${c.shutdown.killed ? ' (did not exit within 30 s: killed)' : ''}.`,
  ].join('\n');
}

function staticTables(s: StaticFigures): string {
  return [
    'Static assets (wrk -t2 -c64 --latency, same machine: wrk competes with the server for the 2 cores)',
    table(
      ['server', 'request', 'answer', 'req/s', 'GB/s', 'Gbit/s', 'p50 ms', 'p99 ms', 'server CPU', 'RSS MiB'],
      s.rows.map((r) => [
        r.server,
        r.case,
        `${r.response.contentEncoding} ${r.response.bodyBytes} B + ${r.response.headerBytes} B head`,
        pm(r.requestsPerSecond, 0),
        pm(r.gigabytesPerSecond, 3),
        pm(r.gigabitsPerSecond, 2),
        fixed(r.runs.reduce((a, x) => a + x.latencyMs.p50, 0) / r.runs.length, 2),
        fixed(r.runs.reduce((a, x) => a + x.latencyMs.p99, 0) / r.runs.length, 2),
        `${fixed((r.runs.reduce((a, x) => a + x.serverCpuShare, 0) / r.runs.length) * 100, 0)}%`,
        mib(r.serverRssKiB),
      ]),
    ),
    ...(() => {
      // Each case beside the first nginx: the gateway's req/s as a share of nginx's.
      const lines: string[] = [];
      for (const g of s.rows.filter((r) => r.server === 'gateway')) {
        for (const n of s.rows.filter((r) => r.server !== 'gateway' && r.case === g.case)) {
          lines.push(`  ${g.case}: gateway ${fixed((g.requestsPerSecond.mean / n.requestsPerSecond.mean) * 100, 0)}% of ${n.server}'s req/s`);
        }
      }
      return lines;
    })(),
  ].join('\n');
}

function profileTable(name: string, p: ProfileSummary): string {
  return [
    `CPU profile of the gateway process, ${name} (${fixed(p.totalMs / 1000, 1)} s, busy ${fixed(p.busyShare * 100, 0)}%): by origin, then top functions by self time`,
    table(['origin', 'self ms', 'share'], p.byOrigin.map((r) => [r.name, fixed(r.selfMs, 0), `${fixed(r.share * 100, 1)}%`])),
    table(['function', 'self ms', 'share'], p.byFunction.map((r) => [r.name, fixed(r.selfMs, 0), `${fixed(r.share * 100, 1)}%`])),
  ].join('\n');
}

function gitDescribe(): string {
  try {
    const head = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: REPO_ROOT, encoding: 'utf8' }).trim();
    const dirty = execFileSync('git', ['status', '--porcelain', '--untracked-files=no'], { cwd: REPO_ROOT, encoding: 'utf8' }).trim() !== '';
    return dirty ? `${head} + uncommitted changes` : head;
  } catch {
    return 'unknown';
  }
}

export async function run(argv: readonly string[]): Promise<number> {
  // Many replicas, clients and stand-ins: a benchmark of its own with its own options.
  if (argv[0] === 'scale') return runScale(argv.slice(1));
  const options = parseOptions(argv);
  // On a shared machine, other work would otherwise decide the tail latencies: every process
  // the benchmark starts inherits this priority, the direct and the gateway paths alike.
  setPriority(options.nice);
  ensureBuilt();
  const log = (line: string) => process.stderr.write(`${line}\n`);
  const results: Results = {
    date: new Date().toISOString(),
    machine: machine(),
    command: `node --import tsx bench/gateway.ts ${argv.join(' ')}`.trim(),
    commit: gitDescribe(),
    options,
    load: {},
  };
  const loadOf = () => Math.round(loadavg()[0]! * 100) / 100;
  const profileRoot = options.profile ? await mkdtemp(join(tmpdir(), 'ctbench-prof-')) : null;
  const profileDir = async (name: string) => {
    if (!profileRoot) return null;
    const dir = join(profileRoot, name);
    await mkdir(dir, { recursive: true });
    return dir;
  };
  results.profiles = {};
  const m = results.machine;
  log(`machine: ${m.cpus} × ${m.cpuModel}, ${m.memoryGiB} GiB, Linux ${m.kernel}, Node ${m.node}`);
  const wantsEcho = options.parts.filter((p) => p === 'latency' || p === 'throughput');
  if (wantsEcho.length > 0) {
    log(`${wantsEcho.join(' + ')}:`);
    const before = loadOf();
    results.echo = await measureEcho({
      samples: options.samples,
      warmup: options.warmup,
      runs: options.runs,
      latency: wantsEcho.includes('latency'),
      throughput: wantsEcho.includes('throughput'),
      profileDir: await profileDir('echo'),
      gatewayNodeFlags: options.gatewayNodeFlags,
      proxyCore: options.proxyCore,
      log,
    });
    results.load.echo = { before, after: loadOf() };
    if (results.echo.gatewayProfile) results.profiles.echo = await summarizeProfile(results.echo.gatewayProfile);
  }
  if (options.parts.includes('concurrency')) {
    log('concurrency:');
    const before = loadOf();
    results.concurrency = await measureConcurrency({
      max: options.max,
      checkpoints: [1_000, 2_500, 5_000, 7_500, 9_000, 10_000, 25_000, 50_000, 75_000, 100_000],
      sources: options.sources,
      window: options.window,
      deadlineMs: options.deadlineSeconds * 1000,
      profileDir: await profileDir('concurrency'),
      gatewayNodeFlags: options.gatewayNodeFlags,
      proxyCore: options.proxyCore,
      settleSeconds: options.settleSeconds,
      holdSeconds: options.holdSeconds,
      memoryLimitBytes: options.memoryLimitMB === null ? null : options.memoryLimitMB * 1e6,
      log,
    });
    results.load.concurrency = { before, after: loadOf() };
    if (results.concurrency.gatewayProfile) results.profiles.concurrency = await summarizeProfile(results.concurrency.gatewayProfile);
  }
  if (options.parts.includes('static')) {
    log('static:');
    const before = loadOf();
    results.static = await measureStatic({
      seconds: options.staticSeconds,
      connections: 64,
      threads: 2,
      runs: options.staticRuns,
      nginxWorkers: options.nginxWorkers,
      nginxHeaders: options.nginxHeaders,
      gatewayNodeFlags: options.gatewayNodeFlags,
      log,
    });
    results.load.static = { before, after: loadOf() };
  }

  const sections: string[] = [`Gateway benchmark, ${results.date}: ${m.cpus} × ${m.cpuModel}, ${m.memoryGiB} GiB, Node ${m.node}, ${m.nginx}`];
  if (results.echo) sections.push(echoTables(results.echo, wantsEcho));
  if (results.concurrency) sections.push(concurrencyTables(results.concurrency));
  if (results.static) sections.push(staticTables(results.static));
  for (const [name, summary] of Object.entries(results.profiles)) sections.push(profileTable(name, summary));
  sections.push(`Load average (1 min) before → after each part: ${Object.entries(results.load).map(([k, v]) => `${k} ${v.before} → ${v.after}`).join(', ')}`);
  process.stdout.write(`${sections.join('\n\n')}\n`);

  const dir = join(REPO_ROOT, 'bench/results');
  await mkdir(dir, { recursive: true });
  const suffix = options.label ?? (options.parts.length === PARTS.length ? '' : options.parts.join('-'));
  const file = join(dir, `gateway-${results.date.slice(0, 10)}${suffix ? `-${suffix}` : ''}.json`);
  await writeFile(file, `${JSON.stringify(results, null, 2)}\n`);
  log(`wrote ${file}`);
  return 0;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const stop = () => {
    killAllStarted();
    process.exit(130);
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  run(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (error: unknown) => {
      process.stderr.write(`bench gateway: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
      killAllStarted();
      process.exitCode = 1;
    },
  );
}
