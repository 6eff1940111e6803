// What `cloudterm attach` adds to a terminal: keystroke echo and the throughput of `seq 1 3000000`
// through the terminal client (client + gateway + agent, the client in a PTY as a user runs it)
// beside the same through the gateway with the bench's lean WebSocket client. For scale, a PTY's
// own echo (`cat` in cooked mode under node-pty): the floor any program in a terminal pays.
//
//   npm run bench -- client [--runs 3] [--samples 2000] [--warmup 200] [--count 3000000]
//
// The gateway and the client run from dist/ (npm run build first).
import { spawnSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { performance } from 'node:perf_hooks';
import { spawn as spawnPty, type IPty } from 'node-pty';
import { intOption } from './lib/options.js';
import { echoLatency, settle } from './lib/measure.js';
import { withTimeout, type Keyboard } from './lib/terminal.js';
import { WsTerminal } from './gateway-echo.js';
import { GATEWAY_ENTRY, SHELL_ENV, cpuSeconds, ensureBuilt, fixed, killAllStarted, latency, machine, pm, spread, startGatewayProc, table } from './gateway-support.js';

const QUIET = { quietMs: 200, timeoutMs: 10_000 } as const;

/** A program in a PTY as a bench terminal: keys to the master, its bytes as output (not decoded: the bench reads as fast as it can). */
class PtyTerminal implements Keyboard<Buffer> {
  sink: (chunk: Buffer) => void = () => {};
  constructor(readonly pty: IPty) {
    // With `encoding: null` node-pty hands on Buffers, whatever its types say.
    pty.onData((data) => this.sink(data as unknown as Buffer));
  }
  type(text: string): void {
    this.pty.write(text);
  }
}

/** The bytes `seq 1 N` prints on a terminal (each "\n" as "\r\n"). */
function seqBytes(count: number): number {
  let total = 0;
  for (let digits = 1, from = 1; from <= count; digits += 1, from *= 10) total += (Math.min(count, from * 10 - 1) - from + 1) * (digits + 2);
  return total;
}

async function seqRun(terminal: Keyboard<string> | Keyboard<Buffer>, count: number, pid: number | null): Promise<{ mbPerSecond: number; cpu: number | null }> {
  const expected = seqBytes(count);
  let received = 0;
  const done = new Promise<void>((resolve, reject) => {
    (terminal as Keyboard<string | Buffer>).sink = (chunk) => {
      received += chunk.length;
      if (received === expected) resolve();
      else if (received > expected) reject(new Error(`more output than seq prints: ${received} > ${expected}`));
    };
  });
  const cpuBefore = pid ? cpuSeconds(pid) : 0;
  const start = performance.now();
  terminal.type(`seq 1 ${count}\n`);
  await withTimeout(done, 120_000, `seq 1 ${count} (got ${received} of ${expected} bytes)`);
  const seconds = (performance.now() - start) / 1000;
  await settle(terminal as Keyboard<string>, QUIET.quietMs, QUIET.timeoutMs);
  return { mbPerSecond: expected / 1e6 / seconds, cpu: pid ? (cpuSeconds(pid) - cpuBefore) / seconds : null };
}

export async function run(argv: readonly string[]): Promise<number> {
  const { values } = parseArgs({
    args: [...argv],
    options: { runs: { type: 'string', default: '3' }, samples: { type: 'string', default: '2000' }, warmup: { type: 'string', default: '200' }, count: { type: 'string', default: '3000000' } },
  });
  const runs = intOption('runs', values.runs, 1, 20);
  const samples = intOption('samples', values.samples, 10, 100_000);
  const warmup = intOption('warmup', values.warmup, 0, 10_000);
  const count = intOption('count', values.count, 1000, 100_000_000);
  ensureBuilt();
  const home = await mkdtemp(join(tmpdir(), 'ctbench-client-'));
  const env = { ...SHELL_ENV, HOME: home, XDG_CONFIG_HOME: join(home, 'config'), TERM: 'xterm-256color' } as Record<string, string>;
  const gateway = await startGatewayProc();
  const ptys: IPty[] = [];
  try {
    const token = gateway.cookie.replace(/^cloudterm_token=/, '');
    const login = spawnSync(process.execPath, [GATEWAY_ENTRY, 'login', gateway.url, '--token-stdin'], { input: `${token}\n`, env, encoding: 'utf8' });
    if (login.status !== 0) throw new Error(`cloudterm login: ${login.stderr}`);
    const wsSession = await gateway.createSession();
    const cliSession = await gateway.createSession();
    const ws = await WsTerminal.open(`${gateway.url.replace('http', 'ws')}/api/sessions/${wsSession}/attach`, { cookie: gateway.cookie, origin: gateway.url });
    const cliPty = spawnPty(process.execPath, [GATEWAY_ENTRY, 'attach', cliSession], { name: 'xterm-256color', cols: 120, rows: 40, env, encoding: null });
    ptys.push(cliPty);
    const cli = new PtyTerminal(cliPty);
    const floorPty = spawnPty('cat', [], { name: 'xterm-256color', cols: 120, rows: 40, env, encoding: null });
    ptys.push(floorPty);
    const floor = new PtyTerminal(floorPty);
    const paths = [
      { name: 'bench client (WebSocket) → gateway → agent', terminal: ws as Keyboard<string | Buffer>, pid: null as number | null },
      { name: '`cloudterm attach` in a PTY → gateway → agent', terminal: cli as Keyboard<string | Buffer>, pid: cliPty.pid },
    ];
    const echo = new Map<string, number[]>();
    for (let round = 0; round < runs; round += 1) {
      for (const path of round % 2 === 0 ? paths : [...paths].reverse()) {
        const got = await echoLatency(path.terminal, samples, warmup, QUIET);
        echo.set(path.name, [...(echo.get(path.name) ?? []), ...got]);
        const l = latency(got);
        process.stderr.write(`  echo ${path.name} run ${round + 1}: p50 ${l.p50.toFixed(3)} ms, p99 ${l.p99.toFixed(3)} ms\n`);
      }
    }
    const floorEcho = await echoLatency(floor, samples, warmup, QUIET);
    const tput = new Map<string, { mbPerSecond: number; cpu: number | null }[]>();
    for (const path of paths) {
      path.terminal.type("stty -echo; PS1=''\n");
      await settle(path.terminal as Keyboard<string>, QUIET.quietMs, QUIET.timeoutMs);
      await seqRun(path.terminal, count, path.pid);
    }
    for (let round = 0; round < runs; round += 1) {
      for (const path of round % 2 === 0 ? paths : [...paths].reverse()) {
        const result = await seqRun(path.terminal, count, path.pid);
        tput.set(path.name, [...(tput.get(path.name) ?? []), result]);
        process.stderr.write(`  seq ${path.name} run ${round + 1}: ${result.mbPerSecond.toFixed(1)} MB/s\n`);
      }
    }
    const [wsName, cliName] = paths.map((path) => path.name) as [string, string];
    const wsEcho = latency(echo.get(wsName)!);
    const cliEcho = latency(echo.get(cliName)!);
    const f = latency(floorEcho);
    const rows = paths.map((path) => {
      const l = latency(echo.get(path.name)!);
      const t = tput.get(path.name)!;
      const cpu = t.map((r) => r.cpu).filter((c): c is number => c !== null);
      return [path.name, fixed(l.p50, 3), fixed(l.p99, 3), pm(spread(t.map((r) => r.mbPerSecond))), cpu.length ? `${fixed(spread(cpu).mean * 100, 0)}%` : '—'];
    });
    rows.push(['a PTY\'s own echo (cat, cooked), for scale', fixed(f.p50, 3), fixed(f.p99, 3), '—', '—']);
    const m = machine();
    process.stdout.write(`\n${m.cpus} × ${m.cpuModel}, Node ${process.version}; ${runs} rounds × ${samples} keystrokes (${warmup} warm-up), seq 1 ${count} (${fixed(seqBytes(count) / 1e6, 1)} MB)\n\n`);
    process.stdout.write(`${table(['path', 'echo p50 ms', 'echo p99 ms', `seq 1 ${count} MB/s`, 'client CPU'], rows)}\n`);
    process.stdout.write(`\nadded by the terminal client at p50: ${fixed((cliEcho.p50 - wsEcho.p50) * 1000, 0)} µs (p99 ${fixed((cliEcho.p99 - wsEcho.p99) * 1000, 0)} µs); throughput ${fixed((spread(tput.get(cliName)!.map((r) => r.mbPerSecond)).mean / spread(tput.get(wsName)!.map((r) => r.mbPerSecond)).mean) * 100, 0)}% of the bench client's\n`);
    ws.close();
    return 0;
  } finally {
    for (const pty of ptys) pty.kill();
    await gateway.stop();
    killAllStarted();
    await rm(home, { recursive: true, force: true });
  }
}
