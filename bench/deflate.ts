// `npm run bench -- deflate`: permessage-deflate on and off, through a real gateway (local mode,
// from dist/) to a real shell, over loopback and over bandwidth-limited links. On each link one
// gateway serves both sides of the comparison: a client that offers permessage-deflate gets it
// (the agent accepts, the gateway splices the compressed frames), one that offers nothing does
// not. Rounds alternate on and off in the same run, so that the load of a shared machine falls on
// both. Each round attaches afresh and measures:
//   - throughput of a stream of `a`, `seq`, a `find /usr` listing and an editor-like redraw
//     (full-screen repaints of a source file scrolled a line at a time), from the newline that
//     starts the command to the marker after it; the output's SHA-256 must be the same on and off;
//   - keystroke echo (p50, p99), the PTY echoing single keys at the shell's prompt.
// A limited link is a network namespace of its own whose loopback is shaped by `tc ... tbf`
// (the gateway's upstream to the terminal host is a unix socket, so only the browser's leg is
// limited); the bench re-runs itself in it with `ip netns exec`. Needs root for the namespaces.
//
//   npm run bench -- deflate [--links loopback,100,10] [--rounds 3] [--samples 300]
//
// Prints a table per link and writes bench/results/deflate-<date>.json.
import { createHash } from 'node:crypto';
import { execFileSync, spawn } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { performance } from 'node:perf_hooks';
import { intOption } from './lib/options.js';
import { echoLatency } from './lib/measure.js';
import { latency, type Latency } from './lib/stats.js';
import { WsTerminal } from './gateway-echo.js';
import { REPO_ROOT, agentPidsOf, cpuSeconds, ensureBuilt, fixed, killAllStarted, machine, startGatewayProc, table, withTimeout, type GatewayProc } from './gateway-support.js';

/** A link: its name, its rate for tbf (none: plain loopback) and how much each workload prints. */
interface Link {
  readonly name: string;
  readonly mbit: number | null;
  /** Bytes of `a`, lines of seq, bytes of the listing and of the redraw. */
  readonly sizes: { readonly a: number; readonly seq: number; readonly find: number; readonly editor: number };
}

const LINKS: Record<string, Link> = {
  loopback: { name: 'loopback', mbit: null, sizes: { a: 200_000_000, seq: 2_000_000, find: 10_000_000, editor: 10_000_000 } },
  '100': { name: '100 Mbit/s', mbit: 100, sizes: { a: 50_000_000, seq: 1_000_000, find: 10_000_000, editor: 5_000_000 } },
  '10': { name: '10 Mbit/s', mbit: 10, sizes: { a: 10_000_000, seq: 300_000, find: 3_000_000, editor: 2_000_000 } },
};

const WORKLOADS = ['a', 'seq', 'find', 'editor'] as const;
type Workload = (typeof WORKLOADS)[number];

interface Options {
  readonly links: readonly string[];
  readonly rounds: number;
  readonly samples: number;
  readonly warmup: number;
  /** Set when this process is the run inside a link's namespace: print the figures as JSON. */
  readonly inner: boolean;
}

function parseOptions(argv: readonly string[]): Options {
  const { values } = parseArgs({
    args: [...argv],
    options: {
      links: { type: 'string', default: 'loopback,100,10' },
      rounds: { type: 'string', default: '3' },
      samples: { type: 'string', default: '300' },
      warmup: { type: 'string', default: '50' },
      inner: { type: 'boolean', default: false },
    },
  });
  const links = values.links.split(',');
  for (const link of links) if (!LINKS[link]) throw new Error(`--links: no link ${link}; there are ${Object.keys(LINKS).join(', ')}`);
  return {
    links,
    rounds: intOption('rounds', values.rounds, 1, 50),
    samples: intOption('samples', values.samples, 10, 100_000),
    warmup: intOption('warmup', values.warmup, 0, 10_000),
    inner: values.inner,
  };
}

interface Run {
  readonly mbPerSecond: number;
  /** CPU seconds per MB of output: the gateway's and the terminal host's. */
  readonly gatewayCpuPerMB: number;
  readonly hostCpuPerMB: number;
  readonly sha256: string;
}

interface Side {
  readonly extensions: string;
  readonly throughput: Record<Workload, Run[]>;
  readonly echo: Latency;
}

export interface LinkFigures {
  readonly link: string;
  readonly sizes: Link['sizes'];
  readonly on: Side;
  readonly off: Side;
}

const MARKER = '__DONE__';

/** The command of a workload; its files are prepared in the gateway's data directory. */
function command(workload: Workload, link: Link, dir: string): string {
  switch (workload) {
    case 'a':
      return `head -c ${link.sizes.a} /dev/zero | tr '\\0' a`;
    case 'seq':
      return `seq 1 ${link.sizes.seq}`;
    case 'find':
      return `head -c ${link.sizes.find} ${dir}/find.txt`;
    case 'editor':
      return `head -c ${link.sizes.editor} ${dir}/editor.txt`;
  }
}

/** The listing (saved once: a disk walk is not what is measured) and the redraw. */
async function prepareFiles(dir: string, link: Link): Promise<void> {
  const listing = execFileSync('sh', ['-c', 'find /usr 2>/dev/null'], { maxBuffer: 256 << 20 });
  const copies = Math.ceil(link.sizes.find / listing.length);
  await writeFile(join(dir, 'find.txt'), Buffer.concat(Array.from({ length: copies }, () => listing)));
  const source = execFileSync('cat', [join(REPO_ROOT, 'agent/src/pty-session.ts'), join(REPO_ROOT, 'gateway/src/http/attach-upgrade.ts')], { encoding: 'utf8' }).split('\n');
  const screens: string[] = [];
  let bytes = 0;
  for (let top = 0; bytes < link.sizes.editor; top += 1) {
    let screen = '\x1b[H';
    for (let row = 0; row < 50; row += 1) {
      const line = source[(top + row) % source.length]!.slice(0, 110);
      screen += `\x1b[${row + 1};1H\x1b[33m${String(top + row + 1).padStart(5)}\x1b[m ${line}\x1b[K`;
    }
    screen += `\x1b[51;1H\x1b[7m-- INSERT --\x1b[m\x1b[51;80H${top + 1},1`;
    screens.push(screen);
    bytes += screen.length;
  }
  await writeFile(join(dir, 'editor.txt'), screens.join(''));
}

async function throughputRound(terminal: WsTerminal, line: string, pids: { gateway: number; host: number }): Promise<Run> {
  // Echo off while it runs, so that only the command's output is between the trigger and the marker.
  terminal.type(`stty -echo; read _; ${line}; stty echo; d=__DO; echo \${d}NE__\n`);
  await settleQuiet(terminal);
  const chunks: Buffer[] = [];
  let tail = '';
  let doneAt = 0;
  const done = new Promise<void>((resolve) => {
    terminal.sink = (chunk) => {
      chunks.push(Buffer.from(chunk));
      tail = (tail + chunk.toString('latin1')).slice(-64);
      if (tail.includes(MARKER)) {
        doneAt = performance.now();
        resolve();
      }
    };
  });
  const before = { gateway: cpuSeconds(pids.gateway), host: cpuSeconds(pids.host) };
  const start = performance.now();
  terminal.type('\n');
  await withTimeout(done, 600_000, `the marker after ${line}`);
  const output = Buffer.concat(chunks);
  const body = output.subarray(0, output.lastIndexOf(MARKER));
  const mb = body.length / 1e6;
  const run = {
    mbPerSecond: mb / ((doneAt - start) / 1000),
    gatewayCpuPerMB: (cpuSeconds(pids.gateway) - before.gateway) / mb,
    hostCpuPerMB: (cpuSeconds(pids.host) - before.host) / mb,
    sha256: createHash('sha256').update(body).digest('hex'),
  };
  await settleQuiet(terminal);
  return run;
}

async function settleQuiet(terminal: WsTerminal): Promise<void> {
  let last = performance.now();
  terminal.sink = () => (last = performance.now());
  while (performance.now() - last < 300) await new Promise((r) => setTimeout(r, 50));
}

/** One link, inside its namespace (or on the plain loopback): on and off, alternating. */
async function measureLink(link: Link, options: Options, log: (line: string) => void): Promise<LinkFigures> {
  let gateway: GatewayProc | null = null;
  try {
    gateway = await startGatewayProc({ args: ['--terminal-hosts', '1'] });
    await prepareFiles(gateway.dataDir, link);
    const sessionId = await gateway.createSession();
    const host = agentPidsOf(gateway.dataDir)[0];
    if (host === undefined) throw new Error('no terminal host found');
    const pids = { gateway: gateway.proc.pid, host };
    const url = `${gateway.url.replace('http', 'ws')}/api/sessions/${sessionId}/attach`;
    const headers = { cookie: gateway.cookie, origin: gateway.url };
    const sides = { on: { extensions: '', throughput: {} as Record<Workload, Run[]>, echo: [] as number[] }, off: { extensions: '', throughput: {} as Record<Workload, Run[]>, echo: [] as number[] } };
    for (const side of Object.values(sides)) for (const workload of WORKLOADS) side.throughput[workload] = [];
    for (let round = 0; round < options.rounds; round += 1) {
      // Which side goes first alternates too: neither always runs on a warmer machine.
      const order = round % 2 === 0 ? (['on', 'off'] as const) : (['off', 'on'] as const);
      for (const workload of WORKLOADS) {
        for (const name of order) {
          const terminal = await WsTerminal.open(url, headers, name === 'on');
          sides[name].extensions = terminal.extensions;
          await settleQuiet(terminal);
          const run = await throughputRound(terminal, command(workload, link, gateway.dataDir), pids);
          sides[name].throughput[workload].push(run);
          terminal.close();
          log(`  ${link.name} round ${round + 1} ${workload} deflate ${name}: ${fixed(run.mbPerSecond, 1)} MB/s`);
        }
      }
      for (const name of order) {
        const terminal = await WsTerminal.open(url, headers, name === 'on');
        sides[name].echo.push(...(await echoLatency(terminal, options.samples, options.warmup, { quietMs: 300, timeoutMs: 20_000 })));
        terminal.close();
      }
    }
    for (const workload of WORKLOADS) {
      const hashes = new Set([...sides.on.throughput[workload], ...sides.off.throughput[workload]].map((run) => run.sha256));
      if (hashes.size !== 1) throw new Error(`${workload}: the output differed between rounds (${hashes.size} different SHA-256s)`);
    }
    if (!sides.on.extensions.startsWith('permessage-deflate') || sides.off.extensions !== '') {
      throw new Error(`negotiated "${sides.on.extensions}" with the offer and "${sides.off.extensions}" without`);
    }
    const side = (s: (typeof sides)['on']): Side => ({ extensions: s.extensions, throughput: s.throughput, echo: latency(s.echo) });
    return { link: link.name, sizes: link.sizes, on: side(sides.on), off: side(sides.off) };
  } finally {
    await gateway?.stop();
  }
}

/** Runs `measureLink` for a limited link in a namespace of its own, shaped by tbf. */
async function inNamespace(key: string, link: Link, options: Options, log: (line: string) => void): Promise<LinkFigures> {
  const ns = `ctbench-deflate-${key}`;
  const ip = (...args: string[]) => execFileSync('ip', args, { stdio: 'inherit' });
  execFileSync('sh', ['-c', `ip netns del ${ns} 2>/dev/null || true`]);
  ip('netns', 'add', ns);
  try {
    ip('-n', ns, 'link', 'set', 'lo', 'mtu', '1500', 'up');
    // A burst of a few packets and a queue of 50 ms: what a shaped access link looks like.
    execFileSync('ip', ['netns', 'exec', ns, 'tc', 'qdisc', 'add', 'dev', 'lo', 'root', 'tbf', 'rate', `${link.mbit}mbit`, 'burst', '16kb', 'latency', '50ms'], { stdio: 'inherit' });
    const args = ['netns', 'exec', ns, process.execPath, '--import', 'tsx', join(REPO_ROOT, 'bench/run.ts'), 'deflate', '--inner', '--links', key,
      '--rounds', String(options.rounds), '--samples', String(options.samples), '--warmup', String(options.warmup)];
    const child = spawn('ip', args, { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      const lines = out.split('\n');
      out = lines.pop() ?? '';
      for (const line of lines) {
        if (line.startsWith('{')) result = JSON.parse(line) as LinkFigures;
        else log(line);
      }
    });
    let result: LinkFigures | null = null;
    const code = await new Promise<number>((resolve) => child.on('close', (c) => resolve(c ?? 1)));
    if (code !== 0 || result === null) throw new Error(`the run in ${ns} exited ${code}`);
    return result;
  } finally {
    ip('netns', 'del', ns);
  }
}

const median = (values: readonly number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;

function report(figures: LinkFigures): string {
  const rows = WORKLOADS.map((workload) => {
    const on = figures.on.throughput[workload];
    const off = figures.off.throughput[workload];
    const mbs = (runs: Run[]) => runs.map((r) => r.mbPerSecond);
    const ratios = on.map((run, i) => run.mbPerSecond / off[i]!.mbPerSecond);
    return [
      workload,
      `${fixed(median(mbs(on)), 1)} (${mbs(on).map((v) => fixed(v, 0)).join(', ')})`,
      `${fixed(median(mbs(off)), 1)} (${mbs(off).map((v) => fixed(v, 0)).join(', ')})`,
      `${fixed(median(ratios), 2)}×`,
      `${fixed(median(on.map((r) => r.gatewayCpuPerMB)) * 1000, 2)} / ${fixed(median(off.map((r) => r.gatewayCpuPerMB)) * 1000, 2)}`,
      `${fixed(median(on.map((r) => r.hostCpuPerMB)) * 1000, 2)} / ${fixed(median(off.map((r) => r.hostCpuPerMB)) * 1000, 2)}`,
    ];
  });
  const echo = (side: Side) => `${fixed(side.echo.p50, 3)} / ${fixed(side.echo.p99, 3)}`;
  return [
    `${figures.link} (negotiated: "${figures.on.extensions}")`,
    table(['output', 'MB/s deflate on (runs)', 'MB/s off (runs)', 'on / off (median of rounds)', 'gateway CPU ms/MB on / off', 'host CPU ms/MB on / off'], rows),
    `echo p50 / p99 ms: deflate on ${echo(figures.on)}, off ${echo(figures.off)} (${figures.on.echo.samples} samples each)`,
  ].join('\n');
}

export async function run(argv: readonly string[]): Promise<number> {
  const options = parseOptions(argv);
  ensureBuilt();
  const log = (line: string) => process.stderr.write(`${line}\n`);
  try {
    if (options.inner) {
      const key = options.links[0]!;
      process.stdout.write(`${JSON.stringify(await measureLink(LINKS[key]!, options, (line) => process.stdout.write(`${line}\n`)))}\n`);
      return 0;
    }
    const results: LinkFigures[] = [];
    for (const key of options.links) {
      const link = LINKS[key]!;
      const figures = link.mbit === null ? await measureLink(link, options, log) : await inNamespace(key, link, options, log);
      results.push(figures);
      process.stdout.write(`\n${report(figures)}\n`);
    }
    const dir = join(REPO_ROOT, 'bench/results');
    await mkdir(dir, { recursive: true });
    const file = join(dir, `deflate-${new Date().toISOString().slice(0, 19).replace(/:/g, '-')}.json`);
    await writeFile(file, JSON.stringify({ machine: machine(), options, results }, null, 2));
    process.stdout.write(`\nwritten to ${file}\n`);
    return 0;
  } finally {
    killAllStarted();
  }
}
