// What every part of the gateway benchmark shares: processes it starts (tracked, so a failed run
// still stops them), /proc readings, statistics, tables, and a gateway built from dist/ running as
// its own process with a fresh data directory, a known user and a logged-in cookie.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, connect } from 'node:net';
import { once } from 'node:events';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import bcrypt from 'bcrypt';

export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
export const GATEWAY_ENTRY = join(REPO_ROOT, 'dist/gateway/src/main.js');
/** What `cloudterm local` gives the agents it starts, and what we give the agent we start. */
export const SHELL_ENV: NodeJS.ProcessEnv = { PATH: '/usr/local/bin:/usr/bin:/bin', LANG: 'C.UTF-8', PS1: '$ ' };
export const NOFILE = 1_048_576;

export const BENCH_USER = 'bench';
export const BENCH_PASSWORD = 'bench-password-1';

// ---------------------------------------------------------------------------------------------
// Processes

export interface Proc {
  readonly name: string;
  readonly pid: number;
  readonly child: ChildProcess;
  output(): string;
  exited(): boolean;
  /** SIGTERM (or `signal`), SIGKILL after `graceMs`; resolves once the process is gone. */
  stop(graceMs?: number, signal?: NodeJS.Signals): Promise<void>;
}

const started = new Set<ChildProcess>();
const OUTPUT_CAP = 64 * 1024;

let raisable: boolean | null = null;

/**
 * Whether this machine lets us raise the open-files limit of the processes we start. Root
 * without CAP_SYS_RESOURCE (a container) cannot go past its own hard limit.
 */
export function canRaiseFileLimit(): boolean {
  if (raisable === null) {
    try {
      execFileSync('prlimit', [`--nofile=${NOFILE}:${NOFILE}`, 'true'], { stdio: 'ignore' });
      raisable = true;
    } catch {
      raisable = false;
    }
  }
  return raisable;
}

/** The open-files limit (hard) the processes we start get. */
export function effectiveFileLimit(): number {
  if (canRaiseFileLimit()) return NOFILE;
  const match = /^Max open files\s+\d+\s+(\d+)/m.exec(readFileSync('/proc/self/limits', 'utf8'));
  return Number(match?.[1] ?? 0);
}

/** Spawns `command`, with a raised open-files limit when allowed (prlimit execs it: the pid is the program's). */
export function startProc(name: string, command: string, args: readonly string[], options: { env?: NodeJS.ProcessEnv; cwd?: string } = {}): Proc {
  const [file, argv] = canRaiseFileLimit() ? ['prlimit', [`--nofile=${NOFILE}:${NOFILE}`, command, ...args]] : [command, [...args]];
  const child = spawn(file, argv, {
    cwd: options.cwd ?? REPO_ROOT,
    env: options.env ?? SHELL_ENV,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  if (child.pid === undefined) throw new Error(`could not start ${name}`);
  started.add(child);
  let text = '';
  const keep = (chunk: Buffer) => {
    if (text.length < OUTPUT_CAP) text += chunk.toString('utf8');
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  const gone = new Promise<void>((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve();
    else child.once('exit', () => resolve());
  }).finally(() => started.delete(child));
  const exited = () => child.exitCode !== null || child.signalCode !== null;
  return {
    name,
    pid: child.pid,
    child,
    output: () => text,
    exited,
    stop: async (graceMs = 5_000, signal: NodeJS.Signals = 'SIGTERM') => {
      if (exited()) return;
      child.kill(signal);
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      await gone;
      clearTimeout(timer);
    },
  };
}

/** Last resort on the way out (also on failure): nothing the benchmark started may outlive it. */
export function killAllStarted(): void {
  for (const child of started) child.kill('SIGKILL');
  for (const dir of gatewayDataDirs) killAgentsOf(dir);
}

/** Data directories of the gateways we started: their detached agents are found by them. */
const gatewayDataDirs = new Set<string>();

/** Terminal agents the gateway started are detached: find them by their data directory and end them. */
export function killAgentsOf(dataDir: string): number {
  let killed = 0;
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let cmdline = '';
    try {
      cmdline = readFileSync(`/proc/${entry}/cmdline`, 'utf8');
    } catch {
      continue;
    }
    const args = cmdline.split('\0');
    if (args.includes('agent') && args.some((arg) => arg.startsWith(`${dataDir}/`))) {
      try {
        process.kill(Number(entry), 'SIGKILL');
        killed += 1;
      } catch {
        // already gone
      }
    }
  }
  return killed;
}

/** The pid of the `cloudterm agent` serving `sessionId` (started by the gateway), or null. */
export function agentPidOf(sessionId: string): number | null {
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const args = readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0');
      if (args.includes('agent') && args.includes(sessionId)) return Number(entry);
    } catch {
      // gone meanwhile
    }
  }
  return null;
}

/** Lets this process hold as many sockets as the processes it starts (root may raise its own hard limit). */
export function raiseOwnFileLimit(): void {
  if (canRaiseFileLimit()) execFileSync('prlimit', ['--pid', String(process.pid), `--nofile=${NOFILE}:${NOFILE}`]);
}

export async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (typeof address !== 'object' || address === null) throw new Error('no free port');
  return address.port;
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Resolves once 127.0.0.1:port accepts connections; fails early when `proc` exits. */
export async function waitForPort(port: number, timeoutMs: number, proc?: Proc): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const socket = connect(port, '127.0.0.1');
      socket.once('connect', () => {
        socket.destroy();
        resolve(true);
      });
      socket.once('error', () => resolve(false));
    });
    if (ok) return;
    if (proc?.exited()) throw new Error(`${proc.name} exited: ${proc.output()}`);
    if (Date.now() > deadline) throw new Error(`nothing listening on 127.0.0.1:${port} after ${timeoutMs} ms: ${proc?.output() ?? ''}`);
    await sleep(50);
  }
}

export function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what}`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

// ---------------------------------------------------------------------------------------------
// /proc

/** Resident set of one process (not its children), in KiB. */
export function rssKiB(pid: number): number {
  const match = /^VmRSS:\s+(\d+)\s+kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (!match) throw new Error(`no VmRSS for ${pid}`);
  return Number(match[1]);
}

/** CPU seconds (user + system) the process used so far. */
export function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

export function openFiles(pid: number): number {
  return readdirSync(`/proc/${pid}/fd`).length;
}

export interface Machine {
  readonly cpus: number;
  readonly cpuModel: string;
  readonly memoryGiB: number;
  readonly kernel: string;
  readonly node: string;
  readonly nginx: string;
  readonly wrk: string;
}

export function machine(): Machine {
  const cpuinfo = readFileSync('/proc/cpuinfo', 'utf8');
  const memKiB = Number(/^MemTotal:\s+(\d+)/m.exec(readFileSync('/proc/meminfo', 'utf8'))?.[1] ?? 0);
  // nginx -v and wrk -v print on stderr, and wrk -v exits 1.
  const version = (command: string) =>
    execFileSync('sh', ['-c', `${command} 2>&1 || true`], { encoding: 'utf8' }).trim().split('\n')[0] ?? '';
  return {
    cpus: Number(execFileSync('nproc', { encoding: 'utf8' }).trim()),
    cpuModel: /^model name\s*:\s*(.+)$/m.exec(cpuinfo)?.[1] ?? 'unknown',
    memoryGiB: Math.round((memKiB / 1024 / 1024) * 10) / 10,
    kernel: readFileSync('/proc/sys/kernel/osrelease', 'utf8').trim(),
    node: process.version,
    nginx: version('/usr/sbin/nginx -v'),
    wrk: version('wrk -v'),
  };
}

// ---------------------------------------------------------------------------------------------
// Statistics and tables

export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[rank]!;
}

export interface Latency {
  readonly samples: number;
  readonly p50: number;
  readonly p90: number;
  readonly p99: number;
  readonly max: number;
  readonly mean: number;
}

export function latency(samples: readonly number[]): Latency {
  const sorted = [...samples].sort((a, b) => a - b);
  return {
    samples: sorted.length,
    p50: percentile(sorted, 50),
    p90: percentile(sorted, 90),
    p99: percentile(sorted, 99),
    max: sorted[sorted.length - 1] ?? Number.NaN,
    mean: sorted.reduce((a, b) => a + b, 0) / sorted.length,
  };
}

export interface Spread {
  readonly mean: number;
  /** Half the range of the runs: with 3 runs a standard deviation says little more. */
  readonly spread: number;
  readonly runs: readonly number[];
}

export function spread(values: readonly number[]): Spread {
  const mean = values.reduce((a, b) => a + b, 0) / values.length;
  return { mean, spread: (Math.max(...values) - Math.min(...values)) / 2, runs: values };
}

export function table(headers: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i]!)).join(' | ')} |`;
  return [line(headers), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...rows.map(line)].join('\n');
}

export const fixed = (n: number, digits = 1) => (Number.isFinite(n) ? n.toFixed(digits) : '—');
export const pm = (s: Spread, digits = 1) => `${fixed(s.mean, digits)} ± ${fixed(s.spread, digits)}`;
export const mib = (kib: number) => fixed(kib / 1024, 1);

// ---------------------------------------------------------------------------------------------
// A gateway from dist/, as its own process

export interface GatewayProc {
  readonly proc: Proc;
  readonly url: string;
  readonly port: number;
  readonly dataDir: string;
  /** `cloudterm_token=…` of the bench user. */
  readonly cookie: string;
  /** An API call with the cookie and the Origin the gateway expects. */
  api<T = unknown>(method: string, path: string, body?: unknown): Promise<{ status: number; body: T }>;
  createSession(): Promise<string>;
  stop(): Promise<void>;
}

export interface GatewayOptions {
  readonly redisUrl?: string;
  /** Node flags before the script, e.g. --cpu-prof. */
  readonly nodeFlags?: readonly string[];
  readonly dataDir?: string;
}

export function ensureBuilt(): void {
  if (!existsSync(GATEWAY_ENTRY)) execFileSync('npx', ['tsc', '-p', 'tsconfig.build.json'], { cwd: REPO_ROOT, stdio: 'inherit' });
  if (!existsSync(join(REPO_ROOT, 'gateway/ui/dist/manifest.json'))) execFileSync(process.execPath, ['gateway/ui/build.mjs'], { cwd: REPO_ROOT, stdio: 'inherit' });
}

export async function startGatewayProc(options: GatewayOptions = {}): Promise<GatewayProc> {
  const dataDir = options.dataDir ?? (await mkdtemp(join(tmpdir(), 'ctbench-gw-')));
  gatewayDataDirs.add(dataDir);
  const usersFile = join(dataDir, 'users.htpasswd');
  await writeFile(usersFile, `${BENCH_USER}:${await bcrypt.hash(BENCH_PASSWORD, 4)}\n`, { mode: 0o600 });
  const port = await freePort();
  const args = [
    ...(options.nodeFlags ?? []),
    GATEWAY_ENTRY,
    'local',
    '--listen', `127.0.0.1:${port}`,
    '--data-dir', dataDir,
    '--users-file', usersFile,
    '--shell', '/bin/sh',
    '--log-level', 'warn',
    ...(options.redisUrl ? ['--redis-url', options.redisUrl] : []),
  ];
  const proc = startProc('gateway', process.execPath, args, { env: { ...SHELL_ENV, HOME: dataDir } });
  await waitForPort(port, 20_000, proc);
  const url = `http://127.0.0.1:${port}`;
  let cookie = '';
  const api = async <T>(method: string, path: string, body?: unknown) => {
    const response = await fetch(`${url}${path}`, {
      method,
      headers: {
        origin: url,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        ...(cookie ? { cookie } : {}),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const setCookie = response.headers.get('set-cookie');
    if (setCookie) cookie = setCookie.split(';')[0]!;
    const text = await response.text();
    return { status: response.status, body: (text ? JSON.parse(text) : null) as T };
  };
  const login = await api('POST', '/api/login', { username: BENCH_USER, password: BENCH_PASSWORD });
  if (login.status !== 200 || !cookie) throw new Error(`login: ${login.status} ${JSON.stringify(login.body)}`);
  const sessions: string[] = [];
  return {
    proc,
    url,
    port,
    dataDir,
    get cookie() {
      return cookie;
    },
    api,
    createSession: async () => {
      const created = await api<{ id: string }>('POST', '/api/sessions', { name: 'bench' });
      if (created.status !== 201) throw new Error(`create session: ${created.status} ${JSON.stringify(created.body)}`);
      sessions.push(created.body.id);
      return created.body.id;
    },
    stop: async () => {
      for (const id of sessions) await api('DELETE', `/api/sessions/${id}`).catch(() => undefined);
      await proc.stop(15_000);
      // The agents are detached (they outlive a gateway, like tmux): make sure ours do not.
      await sleep(200);
      killAgentsOf(dataDir);
      if (!options.dataDir) await rm(dataDir, { recursive: true, force: true });
    },
  };
}
