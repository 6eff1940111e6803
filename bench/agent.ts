// `npm run bench -- agent`: the PTY agent against wetty and against the ceiling (node-pty read
// in-process): output throughput, keystroke echo latency, and server memory per session and per
// attached viewer. Prints a table and writes bench/results/agent-<date>.json.
import { execFileSync } from 'node:child_process';
import { mkdtemp, mkdir, readdir, rm, writeFile } from 'node:fs/promises';
import { cpus, tmpdir, totalmem } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { intOption } from './lib/options.js';
import { generateSigningKeyPair } from '../core/src/keys/key-pair.js';
import { startAgent, type AgentTransport } from './lib/agent-target.js';
import { startRelay } from './lib/relay-target.js';
import { startWetty } from './lib/wetty-target.js';
import { startCeiling } from './lib/ceiling-target.js';
import { PIPELINE, PIPELINE_BYTES, echoLatency, settle, throughput, type ThroughputRun } from './lib/measure.js';
import { cpuSeconds, killAllStarted, machineCpu, rssKiB } from './lib/processes.js';
import { latency, medianRatio, summarize, type Latency, type Summary } from './lib/stats.js';
import { summarizeProfile, type ProfileSummary } from './lib/cpu-profile.js';
import type { Target, Terminal } from './lib/terminal.js';
import { cloudtermEntry } from './lib/entry.js';

const benchDir = dirname(fileURLToPath(import.meta.url));
const repoRoot = resolve(benchDir, '..');

type TargetName = 'ceiling' | 'relay' | 'agent' | 'wetty';
const TARGETS: readonly TargetName[] = ['ceiling', 'relay', 'agent', 'wetty'];
const DEFAULT_AGENT_ENTRY = cloudtermEntry(repoRoot);

interface Options {
  readonly runs: number;
  readonly samples: number;
  readonly warmup: number;
  readonly viewers: number;
  readonly profile: boolean;
  readonly build: boolean;
  readonly only: readonly TargetName[];
  readonly agentEntry: string;
  readonly transport: AgentTransport;
  /** Node flags for the agent process (e.g. V8 tuning to compare). */
  readonly agentNodeFlags: readonly string[];
  /** Appended to the result file name, so that runs of one day do not overwrite each other. */
  readonly label: string | null;
}

interface RunFigures extends ThroughputRun {
  /** CPU seconds of the server process (not its children) during the run, per wall second. */
  readonly serverCpuShare: number | null;
  /** CPU seconds of the benchmark process (the client, or the ceiling's reader) per wall second. */
  readonly benchCpuShare: number;
  /** Share of all cores busy during the run (1 = every core saturated), from /proc/stat. */
  readonly machineBusy: number;
}

interface MemoryFigures {
  readonly idleKiB: number;
  readonly withViewersKiB: number;
  readonly viewers: number;
  readonly perViewerKiB: number;
}

interface TargetFigures {
  readonly name: string;
  readonly throughput: Summary;
  readonly runs: readonly RunFigures[];
  /** The first `samples` keystrokes after `warmup` in a fresh server process. */
  readonly echo: Latency;
  /** The next `samples` keystrokes, once the server's JIT has warmed up (its steady state). */
  readonly echoWarm: Latency;
  readonly memory: MemoryFigures | null;
}

function parseOptions(argv: readonly string[]): Options {
  const { values } = parseArgs({
    args: [...argv],
    options: {
      runs: { type: 'string', default: '3' },
      samples: { type: 'string', default: '2000' },
      warmup: { type: 'string', default: '200' },
      viewers: { type: 'string', default: '100' },
      profile: { type: 'boolean', default: false },
      'no-build': { type: 'boolean', default: false },
      only: { type: 'string', default: TARGETS.join(',') },
      'agent-entry': { type: 'string', default: DEFAULT_AGENT_ENTRY },
      transport: { type: 'string', default: 'tcp' },
      'agent-node-flags': { type: 'string', default: '' },
      label: { type: 'string' },
    },
  });
  const only = values.only.split(',').map((name) => {
    if (!TARGETS.includes(name as TargetName)) throw new TypeError(`--only takes ${TARGETS.join(', ')}; got ${name}`);
    return name as TargetName;
  });
  return {
    runs: intOption('runs', values.runs, 1, 20),
    samples: intOption('samples', values.samples, 10, 100_000),
    warmup: intOption('warmup', values.warmup, 0, 10_000),
    viewers: intOption('viewers', values.viewers, 1, 250),
    profile: values.profile,
    build: !values['no-build'],
    only,
    agentEntry: values['agent-entry'],
    transport: transportOption(values.transport),
    agentNodeFlags: values['agent-node-flags'].split(' ').filter(Boolean),
    label: values.label ?? null,
  };
}

function transportOption(text: string): AgentTransport {
  if (text !== 'tcp' && text !== 'unix') throw new TypeError(`--transport takes tcp or unix; got ${text}`);
  return text;
}

function machine() {
  const cpuModel = /^model name\s*:\s*(.+)$/m.exec(execFileSync('cat', ['/proc/cpuinfo'], { encoding: 'utf8' }))?.[1] ?? cpus()[0]?.model ?? 'unknown';
  return {
    nproc: Number(execFileSync('nproc', { encoding: 'utf8' }).trim()),
    cpu: cpuModel,
    memoryGiB: Math.round((totalmem() / 1024 ** 3) * 10) / 10,
    kernel: execFileSync('uname', ['-r'], { encoding: 'utf8' }).trim(),
    node: process.version,
  };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function withTarget<T>(start: () => Promise<Target>, body: (target: Target) => Promise<T>): Promise<T> {
  const target = await start();
  try {
    return await body(target);
  } finally {
    await target.stop();
  }
}

async function throughputRun(start: () => Promise<Target>): Promise<RunFigures> {
  return withTarget(start, async (target) => {
    const terminal = await target.open('rw');
    try {
      const serverCpu = target.pid === null ? 0 : cpuSeconds(target.pid);
      const ownCpu = process.cpuUsage();
      const machineBefore = machineCpu();
      const run = await throughput(terminal);
      const machineAfter = machineCpu();
      const own = process.cpuUsage(ownCpu);
      return {
        ...run,
        serverCpuShare: target.pid === null ? null : (cpuSeconds(target.pid) - serverCpu) / run.seconds,
        benchCpuShare: (own.user + own.system) / 1e6 / run.seconds,
        machineBusy: (machineAfter.busy - machineBefore.busy) / (machineAfter.total - machineBefore.total),
      };
    } finally {
      await terminal.close();
    }
  });
}

/** RSS with one client attached and idle, then with `viewers` more read-only clients attached. */
async function memory(target: Target, viewers: number): Promise<MemoryFigures> {
  if (target.pid === null) throw new Error('no server process');
  await sleep(1_000);
  const idleKiB = rssKiB(target.pid);
  const opened: Terminal[] = [];
  try {
    for (let i = 0; i < viewers; i++) opened.push(await target.open('ro'));
    await sleep(1_000);
    const withViewersKiB = rssKiB(target.pid);
    return { idleKiB, withViewersKiB, viewers, perViewerKiB: (withViewersKiB - idleKiB) / viewers };
  } finally {
    await Promise.all(opened.map((terminal) => terminal.close()));
  }
}

/**
 * Echo is measured twice on one connection: a fresh server process answers its first few thousand
 * keystrokes with occasional 1–4 ms stalls while V8 compiles its hot paths (a second agent
 * started by the same client process shows them again; a warm one does not), so the first set is
 * the cold start a new session sees and the second the steady state of a session in use.
 */
async function latencyAndMemory(start: () => Promise<Target>, options: Options): Promise<{ echo: Latency; echoWarm: Latency; memory: MemoryFigures | null }> {
  return withTarget(start, async (target) => {
    const terminal = await target.open('rw');
    try {
      await settle(terminal);
      const mem = target.pid === null ? null : await memory(target, options.viewers);
      await settle(terminal);
      const echo = latency(await echoLatency(terminal, options.samples, options.warmup));
      const echoWarm = latency(await echoLatency(terminal, options.samples, 0));
      return { echo, echoWarm, memory: mem };
    } finally {
      await terminal.close();
    }
  });
}

async function profileAgent(start: (nodeFlags: readonly string[]) => Promise<Target>, dir: string): Promise<{ run: RunFigures; summary: ProfileSummary }> {
  await rm(dir, { recursive: true, force: true });
  await mkdir(dir, { recursive: true });
  const run = await throughputRun(() => start(['--cpu-prof', '--cpu-prof-dir', dir]));
  const files = (await readdir(dir)).filter((name) => name.endsWith('.cpuprofile'));
  if (files.length === 0) throw new Error('the agent wrote no CPU profile (it did not exit cleanly on SIGTERM)');
  return { run, summary: await summarizeProfile(join(dir, files[0]!)) };
}

const f = (n: number, digits = 1) => (Number.isFinite(n) ? n.toFixed(digits) : '–');

function table(figures: Partial<Record<TargetName, TargetFigures>>): string {
  const ceiling = figures.ceiling?.throughput.mean;
  const ceilingRuns = figures.ceiling?.throughput.runs;
  const lines = [
    '| target | throughput MB/s (mean ± half-range) | % of ceiling (means; median of rounds) | echo p50 / p99 ms, cold | echo p50 / p99 ms, warm | echo max ms, cold / warm | server RSS idle MiB | RSS per viewer KiB | server CPU / client CPU during throughput |',
    '|---|---|---|---|---|---|---|---|---|',
  ];
  for (const name of TARGETS) {
    const t = figures[name];
    if (!t) continue;
    const cpu = (share: number | null) => (share === null ? '–' : `${Math.round(share * 100)}%`);
    const server = t.runs.map((r) => r.serverCpuShare ?? Number.NaN);
    const client = t.runs.map((r) => r.benchCpuShare);
    const avg = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
    lines.push(
      `| ${t.name} | ${f(t.throughput.mean)} ± ${f(t.throughput.spread)} (${t.throughput.runs.map((r) => f(r)).join(', ')}) | ` +
        `${ceiling && ceilingRuns ? `${f((t.throughput.mean / ceiling) * 100, 0)}%; ${f(medianRatio(t.throughput.runs, ceilingRuns) * 100, 0)}%` : '–'} | ${f(t.echo.p50, 3)} / ${f(t.echo.p99, 3)} | ${f(t.echoWarm.p50, 3)} / ${f(t.echoWarm.p99, 3)} | ${f(t.echo.max, 2)} / ${f(t.echoWarm.max, 2)} | ` +
        `${t.memory ? f(t.memory.idleKiB / 1024) : '–'} | ${t.memory ? f(t.memory.perViewerKiB) : '–'} | ` +
        `${name === 'ceiling' ? '–' : cpu(avg(server))} / ${cpu(avg(client))} |`,
    );
  }
  const relay = figures.relay?.throughput.mean;
  const agent = figures.agent?.throughput.mean;
  // What the agent's own work costs: its throughput beside the least any relay process does.
  if (relay && agent) lines.push('', `cloudterm agent: ${f((agent / relay) * 100, 0)}% of the reference relay's throughput.`);
  return lines.join('\n');
}

export async function run(argv: readonly string[]): Promise<number> {
  const options = parseOptions(argv);
  const date = new Date().toISOString().slice(0, 10);
  if (options.build) {
    process.stdout.write('building the agent (tsc -p tsconfig.build.json)…\n');
    execFileSync(process.execPath, [join(repoRoot, 'node_modules/typescript/bin/tsc'), '-p', join(repoRoot, 'tsconfig.build.json')], { stdio: 'inherit' });
  }
  const workDir = await mkdtemp(join(tmpdir(), 'cloudterm-bench-'));
  // A small, fixed environment for every shell: nothing from the caller's profile changes the run.
  const env: NodeJS.ProcessEnv = { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: workDir, LANG: 'C.UTF-8', SHELL: '/bin/sh', TERM: 'xterm-256color' };
  const keys = await generateSigningKeyPair();
  const starters: Record<TargetName, (nodeFlags?: readonly string[]) => Promise<Target>> = {
    ceiling: async () => startCeiling({ workDir, env }),
    agent: (nodeFlags = []) => startAgent({ repoRoot, entry: options.agentEntry, workDir, env, privateKey: keys.privateKey, publicKeyPem: keys.publicKeyPem, nodeFlags: [...options.agentNodeFlags, ...nodeFlags], transport: options.transport }),
    relay: () => startRelay({ benchDir, workDir, env }),
    wetty: () => startWetty({ benchDir, workDir, env }),
  };

  const onSignal = () => {
    killAllStarted();
    process.exit(130);
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    // The figures mean little on a machine that is already busy: say so before they are taken.
    const before = machineCpu();
    await sleep(1_000);
    const after = machineCpu();
    const backgroundBusy = (after.busy - before.busy) / (after.total - before.total);
    process.stdout.write(`machine busy before the run: ${Math.round(backgroundBusy * 100)}% of all cores\n`);
    if (backgroundBusy > 0.15) process.stdout.write('warning: something else is using the CPUs; the figures will be low and noisy\n');
    const runs: Partial<Record<TargetName, RunFigures[]>> = {};
    // Interleaved, so that drift on the machine (other load, thermal) spreads over every target.
    for (let i = 0; i < options.runs; i++) {
      for (const name of options.only) {
        const figures = await throughputRun(() => starters[name]());
        (runs[name] ??= []).push(figures);
        process.stdout.write(
          `throughput ${name} run ${i + 1}: ${f(figures.mbPerSecond)} MB/s (${f(figures.seconds, 2)} s, ${figures.chunks} chunks; ` +
            `cores busy ${Math.round(figures.machineBusy * 100)}%, server ${figures.serverCpuShare === null ? '–' : `${Math.round(figures.serverCpuShare * 100)}%`}, bench ${Math.round(figures.benchCpuShare * 100)}%)\n`,
        );
      }
    }
    // The client's own JIT warms up on whatever it measures first: without this, the first
    // WebSocket target's cold figures carried the client's warm-up too (docs/benchmarks.md,
    // "Eighth session"). A throwaway agent takes those keystrokes; every target measured after
    // it is a fresh process, as before, so "cold" stays the server's own first keystrokes.
    if (options.only.some((name) => name !== 'ceiling')) {
      await withTarget(() => starters.agent(), async (target) => {
        const terminal = await target.open('rw');
        try {
          await echoLatency(terminal, options.samples, options.warmup);
        } finally {
          await terminal.close();
        }
      });
      process.stdout.write(`client warmed up: ${options.warmup + options.samples} keystrokes to a throwaway agent\n`);
    }
    const figures: Partial<Record<TargetName, TargetFigures>> = {};
    for (const name of options.only) {
      const { echo, echoWarm, memory: mem } = await latencyAndMemory(() => starters[name](), options);
      process.stdout.write(`echo ${name}: cold p50 ${f(echo.p50, 3)} ms, p99 ${f(echo.p99, 3)} ms; warm p50 ${f(echoWarm.p50, 3)} ms, p99 ${f(echoWarm.p99, 3)} ms${mem ? `; RSS idle ${mem.idleKiB} KiB, +${f(mem.perViewerKiB)} KiB per viewer` : ''}\n`);
      const list = runs[name] ?? [];
      figures[name] = {
        name: name === 'ceiling' ? 'ceiling (node-pty in-process)' : name === 'relay' ? 'reference relay (node-pty → ws.send, nothing else)' : name === 'agent' ? `cloudterm agent (${[options.transport, ...(options.agentEntry === DEFAULT_AGENT_ENTRY ? [] : [options.agentEntry]), ...options.agentNodeFlags].join(', ')})` : 'wetty 3.2.0',
        throughput: summarize(list.map((r) => r.mbPerSecond)),
        runs: list,
        echo,
        echoWarm,
        memory: mem,
      };
    }

    let profile: { run: RunFigures; summary: ProfileSummary } | null = null;
    if (options.profile && options.only.includes('agent')) {
      profile = await profileAgent((flags) => starters.agent(flags), join(benchDir, 'results', `profile-${date}`));
    }

    const markdown = table(figures);
    process.stdout.write(`\n${markdown}\n`);
    if (profile) {
      process.stdout.write(`\nagent CPU profile (one run under --cpu-prof: ${f(profile.run.mbPerSecond)} MB/s), self time by origin:\n`);
      for (const row of profile.summary.byOrigin) process.stdout.write(`  ${f(row.share * 100)}%  ${f(row.selfMs, 0)} ms  ${row.name}\n`);
      process.stdout.write('top functions by self time:\n');
      for (const row of profile.summary.byFunction) process.stdout.write(`  ${f(row.share * 100)}%  ${f(row.selfMs, 0)} ms  ${row.name}\n`);
    }

    const out = join(benchDir, 'results', `agent-${date}${options.label ? `-${options.label}` : ''}.json`);
    await mkdir(dirname(out), { recursive: true });
    const result = {
      date: new Date().toISOString(),
      machine: machine(),
      command: `npm run bench -- agent ${argv.join(' ')}`.trim(),
      backgroundBusy,
      workload: { pipeline: PIPELINE, bytes: PIPELINE_BYTES, echoSamples: options.samples, echoWarmup: options.warmup, viewers: options.viewers },
      figures,
      profile,
      table: markdown,
    };
    await writeFile(out, `${JSON.stringify(result, null, 2)}\n`);
    process.stdout.write(`\nwrote ${out}\n`);
    return 0;
  } finally {
    killAllStarted();
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    await rm(workDir, { recursive: true, force: true });
  }
}
