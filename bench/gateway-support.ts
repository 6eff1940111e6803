// What every part of the gateway benchmark shares: processes it starts (tracked, so a failed run
// still stops them), /proc readings, statistics, tables, and a gateway built from dist/ running as
// its own process with a fresh data directory, a known user and a logged-in cookie.
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import bcrypt from 'bcrypt';
import type { Spread } from './lib/stats.js';
import { cloudtermEntry } from './lib/entry.js';
import { freePort, killAllStarted as killAllProcesses, sleep, startProcess, waitForPort, type ServerProcess } from './lib/processes.js';

// Shared with the agent benchmark (bench/lib/), offered here too so the gateway-*.ts parts import
// everything from one place.
export { cpuSeconds, freePort, rssKiB, rssPartsKiB, sleep, waitForPort } from './lib/processes.js';
export { latency, percentile, spread, type Latency, type Spread } from './lib/stats.js';
export { withTimeout } from './lib/terminal.js';

export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
export const GATEWAY_ENTRY = join(REPO_ROOT, cloudtermEntry(REPO_ROOT));
/** What `cloudterm local` gives the agents it starts, and what we give the agent we start. */
export const SHELL_ENV: NodeJS.ProcessEnv = { PATH: '/usr/local/bin:/usr/bin:/bin', LANG: 'C.UTF-8', PS1: '$ ' };
export const NOFILE = 1_048_576;

export const BENCH_USER = 'bench';
export const BENCH_PASSWORD = 'bench-password-1';

// ---------------------------------------------------------------------------------------------
// Processes

/** A process the gateway benchmark started: lib/processes.ts tracks it like the agent benchmark's. */
export type Proc = ServerProcess;

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
export function startProc(name: string, command: string, args: readonly string[], options: { env?: NodeJS.ProcessEnv; cwd?: string; ipc?: boolean } = {}): Proc {
  const [file, argv] = canRaiseFileLimit() ? ['prlimit', [`--nofile=${NOFILE}:${NOFILE}`, command, ...args]] : [command, [...args]];
  return startProcess(file, argv, { name, cwd: options.cwd ?? REPO_ROOT, env: options.env ?? SHELL_ENV, graceMs: 5_000, ipc: options.ipc ?? false });
}

/** Last resort on the way out (also on failure): nothing the benchmark started may outlive it. */
export function killAllStarted(): void {
  killAllProcesses();
  for (const dir of gatewayDataDirs) killAgentsOf(dir);
}

/** Data directories of the gateways we started: their detached agents are found by them. */
const gatewayDataDirs = new Set<string>();

/** Command lines of the running processes, as argument lists, by pid. */
function processArgs(): Array<{ pid: number; args: string[] }> {
  const found: Array<{ pid: number; args: string[] }> = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      found.push({ pid: Number(entry), args: readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0') });
    } catch {
      // gone meanwhile
    }
  }
  return found;
}

/** The pids of the terminal agents a gateway started: found by its data directory in their arguments. */
export function agentPidsOf(dataDir: string): number[] {
  return processArgs()
    .filter(({ args }) => (args.includes('agent') || args.includes('agent-host')) && args.some((arg) => arg.includes(`${dataDir}/`)))
    .map(({ pid }) => pid);
}

/** Terminal agents the gateway started are detached: end them. */
export function killAgentsOf(dataDir: string): number {
  let killed = 0;
  for (const pid of agentPidsOf(dataDir)) {
    try {
      process.kill(pid, 'SIGKILL');
      killed += 1;
    } catch {
      // already gone
    }
  }
  return killed;
}

/** The pid of the `cloudterm agent` serving `sessionId` (started by the gateway), or null. */
export function agentPidOf(sessionId: string): number | null {
  return processArgs().find(({ args }) => args.includes('agent') && args.includes(sessionId))?.pid ?? null;
}

/** A redis-server of the benchmark's own on a free port (nothing saved to disk), and its URL. */
export async function startRedisProc(): Promise<{ proc: Proc; url: string }> {
  const port = await freePort();
  const proc = startProc('redis-server', 'redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no']);
  await waitForPort(port, 10_000, proc);
  return { proc, url: `redis://127.0.0.1:${port}` };
}

/** A Prometheus sample of the gateway's /metrics (the first series of that name), or null. */
export function metricValue(text: string, name: string): number | null {
  const match = new RegExp(`^${name}(?:\\{[^}]*\\})? ([\\d.e+-]+)`, 'm').exec(text);
  return match ? Number(match[1]) : null;
}

/** Lets this process hold as many sockets as the processes it starts (root may raise its own hard limit). */
export function raiseOwnFileLimit(): void {
  if (canRaiseFileLimit()) execFileSync('prlimit', ['--pid', String(process.pid), `--nofile=${NOFILE}:${NOFILE}`]);
}

// ---------------------------------------------------------------------------------------------
// /proc

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
// Tables

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
  /** The node binary to run it with (a private copy, so that its pages are charged to the gateway alone). */
  readonly nodeBinary?: string;
  /** A memory cgroup's cgroup.procs: the gateway joins it before node starts, so all it uses is charged there. */
  readonly cgroupProcsFile?: string;
  /** More `cloudterm local` flags. */
  readonly args?: readonly string[];
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
    ...(options.args ?? []),
  ];
  const node = options.nodeBinary ?? process.execPath;
  const [command, argv] = options.cgroupProcsFile
    ? ['sh', ['-c', `echo $$ > '${options.cgroupProcsFile}' && exec "$0" "$@"`, node, ...args]]
    : [node, args];
  const proc = startProc('gateway', command, argv, { env: { ...SHELL_ENV, HOME: dataDir } });
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
