// `npm run bench -- terminals`: local mode at many terminals, beside wetty in the same run. Each
// server is driven through its own browser protocol (CloudTerm: create the session, attach through
// the gateway, the hello; wetty: socket.io connect, its 'login'), a window of opens at a time, up
// to --terminals (default 1000), none may be refused. Then, at the peak: memory per extra terminal
// beyond its shell (PSS of the server's processes, from /proc/PID/smaps_rollup, between a few
// terminals and the peak), the PSS of a shell, an old terminal's keystroke echo; then everything is
// closed and no process may be left. Prints a table and writes bench/results/terminals-<date>.json.
import { readFileSync, readdirSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { performance } from 'node:perf_hooks';
import { intOption } from './lib/options.js';
import { startWetty } from './lib/wetty-target.js';
import { echoLatency } from './lib/measure.js';
import { latency, type Latency } from './lib/stats.js';
import { WsTerminal } from './gateway-echo.js';
import { SHELL_ENV, ensureBuilt, fixed, killAllStarted, machine, sleep, startGatewayProc, table, type GatewayProc } from './gateway-support.js';
import type { Chunk, Keyboard } from './lib/terminal.js';

const benchDir = dirname(fileURLToPath(import.meta.url));
/** Terminals open when the base memory is read: every host exists by then. */
const BASE = 10;

interface Opened extends Keyboard {
  close(): Promise<void>;
}

/** One server under test: how to open a terminal, and which processes are its own (not shells). */
interface Subject {
  readonly name: string;
  open(): Promise<Opened>;
  /** The server's processes (CloudTerm: the gateway and its terminal hosts). */
  serverPids(): number[];
  /** Everything it started that still runs: server processes other than the first, and shells. */
  leftovers(): number[];
  /** The shells (the terminals' programs). */
  shellPids(): number[];
  stop(): Promise<void>;
}

export interface TerminalsFigures {
  readonly name: string;
  readonly opened: number;
  readonly refused: number;
  readonly openSeconds: number;
  readonly serverPssBaseKiB: number;
  readonly serverPssPeakKiB: number;
  readonly perExtraTerminalKiB: number;
  readonly shellPssKiB: number;
  readonly oldEcho: Latency | null;
  readonly closeSeconds: number;
  readonly leftAfterClose: number;
}

function pssKiB(pid: number): number {
  try {
    return Number(/^Pss:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8'))?.[1] ?? 0);
  } catch {
    return 0;
  }
}

/** Every process: pid, parent pid and argv. */
function processes(): { pid: number; ppid: number; args: string[] }[] {
  const out = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      out.push({ pid: Number(entry), ppid, args: readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0') });
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

function childrenOf(pids: readonly number[]): number[] {
  const parents = new Set(pids);
  return processes().filter((p) => parents.has(p.ppid)).map((p) => p.pid);
}

async function cloudterm(hosts: number): Promise<Subject> {
  const gateway: GatewayProc = await startGatewayProc({
    args: ['--terminal-hosts', String(hosts), '--max-sessions-per-user', '10000', '--max-attachments-per-user', '10000'],
  });
  const hostPids = () => processes().filter((p) => p.args.includes('agent-host') && p.args.some((a) => a.includes(gateway.dataDir))).map((p) => p.pid);
  const wsUrl = gateway.url.replace('http', 'ws');
  return {
    name: `CloudTerm local (${hosts} hosts)`,
    open: async () => {
      const created = await gateway.api<{ id: string }>('POST', '/api/sessions', {});
      if (created.status !== 201) throw new Error(`create: ${created.status} ${JSON.stringify(created.body)}`);
      const terminal = await WsTerminal.open(`${wsUrl}/api/sessions/${created.body.id}/attach`, { cookie: gateway.cookie, origin: gateway.url });
      let current: (chunk: Chunk) => void = () => {};
      return {
        type: (text) => terminal.type(text),
        get sink() {
          return current;
        },
        set sink(sink) {
          current = sink;
          terminal.sink = sink;
        },
        close: async () => {
          terminal.close();
          const deleted = await gateway.api('DELETE', `/api/sessions/${created.body.id}`);
          if (deleted.status !== 204) throw new Error(`delete: ${deleted.status}`);
        },
      };
    },
    serverPids: () => [gateway.proc.pid, ...hostPids()],
    leftovers: () => {
      const hostsNow = hostPids();
      return [...hostsNow, ...childrenOf(hostsNow)];
    },
    shellPids: () => childrenOf(hostPids()),
    stop: () => gateway.stop(),
  };
}

async function wetty(): Promise<Subject> {
  const workDir = await mkdtemp(join(tmpdir(), 'ctbench-wetty-'));
  const target = await startWetty({ benchDir, workDir, env: { ...SHELL_ENV, HOME: workDir } });
  const descendants = () => {
    const all = processes();
    const found = new Set<number>([target.pid!]);
    for (let grew = true; grew; ) {
      grew = false;
      for (const p of all) if (found.has(p.ppid) && !found.has(p.pid)) (found.add(p.pid), (grew = true));
    }
    found.delete(target.pid!);
    return [...found];
  };
  return {
    name: target.name,
    open: async () => (await target.open('rw')) as Opened,
    serverPids: () => [target.pid!],
    leftovers: descendants,
    shellPids: descendants,
    stop: async () => {
      await target.stop();
      await rm(workDir, { recursive: true, force: true });
    },
  };
}

async function measure(subject: Subject, count: number, window: number, deadlineMs: number, log: (line: string) => void): Promise<TerminalsFigures> {
  const opened: Opened[] = [];
  let refused = 0;
  let next = 0;
  let base = 0;
  const started = performance.now();
  const deadline = started + deadlineMs;
  const worker = async () => {
    while (next < count && performance.now() < deadline) {
      next += 1;
      try {
        opened.push(await subject.open());
      } catch (error) {
        refused += 1;
        if (refused <= 3) log(`  ${subject.name}: refused: ${(error as Error).message}`);
      }
      if (opened.length === BASE && base === 0) base = subject.serverPids().reduce((sum, pid) => sum + pssKiB(pid), 0);
    }
  };
  await Promise.all(Array.from({ length: window }, worker));
  const openSeconds = (performance.now() - started) / 1000;
  log(`  ${subject.name}: ${opened.length} open in ${openSeconds.toFixed(2)} s, ${refused} refused`);
  await sleep(2_000);
  const peak = subject.serverPids().reduce((sum, pid) => sum + pssKiB(pid), 0);
  const shells = subject.shellPids();
  const shellPss = shells.length === 0 ? 0 : shells.reduce((sum, pid) => sum + pssKiB(pid), 0) / shells.length;
  const oldEcho = opened[0] ? latency(await echoLatency(opened[0], 50, 5, { quietMs: 200, timeoutMs: 10_000 })) : null;
  log(`  ${subject.name}: the first terminal echoes at the peak: p50 ${fixed(oldEcho?.p50 ?? NaN, 3)} ms`);

  const closing = performance.now();
  let at = 0;
  await Promise.all(Array.from({ length: window }, async () => {
    while (at < opened.length) await opened[at++]!.close().catch((error: Error) => log(`  close: ${error.message}`));
  }));
  const closeSeconds = (performance.now() - closing) / 1000;
  let left = subject.leftovers();
  for (const until = performance.now() + 15_000; left.length > 0 && performance.now() < until; left = subject.leftovers()) await sleep(200);
  return {
    name: subject.name,
    opened: opened.length,
    refused,
    openSeconds,
    serverPssBaseKiB: base,
    serverPssPeakKiB: peak,
    perExtraTerminalKiB: (peak - base) / Math.max(1, opened.length - BASE),
    shellPssKiB: shellPss,
    oldEcho,
    closeSeconds,
    leftAfterClose: left.length,
  };
}

export async function run(argv: readonly string[]): Promise<number> {
  const { values } = parseArgs({
    args: [...argv],
    options: {
      terminals: { type: 'string', default: '1000' },
      window: { type: 'string', default: '16' },
      hosts: { type: 'string', default: '4' },
      deadline: { type: 'string', default: '120' },
      only: { type: 'string', default: 'cloudterm,wetty' },
    },
  });
  const count = intOption('terminals', values.terminals!, 1, 100_000);
  const window = intOption('window', values.window!, 1, 1024);
  const hosts = intOption('hosts', values.hosts!, 1, 64);
  const deadlineMs = intOption('deadline', values.deadline!, 1, 3600) * 1000;
  const only = values.only!.split(',');
  ensureBuilt();
  const log = (line: string) => process.stderr.write(`${line}\n`);
  const results: TerminalsFigures[] = [];
  try {
    for (const name of only) {
      const subject = name === 'wetty' ? await wetty() : await cloudterm(hosts);
      try {
        results.push(await measure(subject, count, window, deadlineMs, log));
      } finally {
        await subject.stop();
      }
    }
  } finally {
    killAllStarted();
  }
  const mb = (kib: number) => fixed(kib / 1024, 2);
  process.stdout.write(
    `${table(
      ['server', 'opened', 'refused', 'open s', 'per extra terminal MB (PSS)', 'shell MB (PSS)', 'old terminal echo p50 / p99 ms', 'left after closing'],
      results.map((r) => [
        r.name,
        String(r.opened),
        String(r.refused),
        fixed(r.openSeconds, 2),
        mb(r.perExtraTerminalKiB),
        mb(r.shellPssKiB),
        r.oldEcho ? `${fixed(r.oldEcho.p50, 3)} / ${fixed(r.oldEcho.p99, 3)}` : '—',
        String(r.leftAfterClose),
      ]),
    )}\n`,
  );
  const date = new Date().toISOString().slice(0, 10);
  await mkdir(join(benchDir, 'results'), { recursive: true });
  const load = readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
  await writeFile(join(benchDir, 'results', `terminals-${date}.json`), `${JSON.stringify({ date, machine: machine(), loadAverage: load, count, window, hosts, results }, null, 2)}\n`);
  const failed = results.some((r) => r.refused > 0 || r.opened < count || r.leftAfterClose > 0);
  return failed ? 1 : 0;
}
