// Server processes the benchmark starts: each one is tracked from spawn to exit, so that a run
// that fails half-way still stops everything it started.
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { createServer, connect } from 'node:net';

const running = new Set<ChildProcess>();

export interface ServerProcess {
  /** What the error messages call it. */
  readonly name: string;
  readonly pid: number;
  readonly child: ChildProcess;
  /** Everything the process wrote, for error messages (capped). */
  output(): string;
  /** True once the process exited or was killed. */
  exited(): boolean;
  /** `signal` (SIGTERM), then SIGKILL after `graceMs`; resolves once the process is gone. */
  stop(graceMs?: number, signal?: NodeJS.Signals): Promise<void>;
}

export interface StartOptions {
  readonly cwd: string;
  readonly env: NodeJS.ProcessEnv;
  /** For error messages (default 'server'). */
  readonly name?: string;
  /**
   * Default grace before SIGKILL in stop(). It differs on purpose between the two benchmarks: the
   * agent benchmark's targets get 6 s (the agent writes its --cpu-prof on SIGTERM), the gateway
   * benchmark's processes 5 s (the gateway itself is stopped with an explicit 15 s).
   */
  readonly graceMs?: number;
  /** An IPC channel to the child (a Node program that takes orders with process.on('message')). */
  readonly ipc?: boolean;
}

const OUTPUT_CAP = 64 * 1024;

export function startProcess(command: string, args: readonly string[], options: StartOptions): ServerProcess {
  const name = options.name ?? 'server';
  const child = spawn(command, [...args], { cwd: options.cwd, env: options.env, stdio: options.ipc ? ['ignore', 'pipe', 'pipe', 'ipc'] : ['ignore', 'pipe', 'pipe'] });
  if (child.pid === undefined) throw new Error(`could not start ${options.name ?? command}`);
  running.add(child);
  let text = '';
  const keep = (chunk: Buffer) => {
    if (text.length < OUTPUT_CAP) text += chunk.toString('utf8');
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  const gone = new Promise<void>((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve();
    else child.once('exit', () => resolve());
  }).finally(() => running.delete(child));
  const exited = () => child.exitCode !== null || child.signalCode !== null;
  return {
    name,
    pid: child.pid,
    child,
    output: () => text,
    exited,
    stop: async (graceMs = options.graceMs ?? 6_000, signal: NodeJS.Signals = 'SIGTERM') => {
      if (exited()) return;
      child.kill(signal);
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      await gone;
      clearTimeout(timer);
    },
  };
}

/** Last resort on the way out: nothing the benchmark started may outlive it. */
export function killAllStarted(): void {
  for (const child of running) child.kill('SIGKILL');
}

export async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (typeof address !== 'object' || address === null) throw new Error('no port');
  return address.port;
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Resolves once something accepts connections on 127.0.0.1:`port`, or on the unix socket at `port` (a path); rejects after `timeoutMs`. */
export async function waitForPort(port: number | string, timeoutMs: number, proc?: ServerProcess): Promise<void> {
  const where = typeof port === 'number' ? `127.0.0.1:${port}` : port;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const socket = typeof port === 'number' ? connect(port, '127.0.0.1') : connect(port);
      socket.once('connect', () => {
        socket.destroy();
        resolve(true);
      });
      socket.once('error', () => resolve(false));
    });
    if (ok) return;
    if (proc?.exited()) throw new Error(`${proc.name} exited (${proc.child.exitCode ?? proc.child.signalCode}): ${proc.output()}`);
    if (Date.now() > deadline) throw new Error(`nothing listening on ${where} after ${timeoutMs} ms: ${proc?.output() ?? ''}`);
    await sleep(50);
  }
}

function statusKiB(pid: number, field: 'VmRSS' | 'RssAnon' | 'RssFile'): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const match = new RegExp(`^${field}:\\s+(\\d+)\\s+kB$`, 'm').exec(status);
  if (!match) throw new Error(`no ${field} for ${pid}`);
  return Number(match[1]);
}

/** Resident set of one process (not its children), from /proc/PID/status, in KiB. */
export function rssKiB(pid: number): number {
  return statusKiB(pid, 'VmRSS');
}

/**
 * The two parts of it: the process's own memory, and pages of files it maps (for Node, mostly
 * the `node` binary's ~40 MiB, shared with every other Node process on the machine).
 */
export function rssPartsKiB(pid: number): { anonymous: number; file: number } {
  return { anonymous: statusKiB(pid, 'RssAnon'), file: statusKiB(pid, 'RssFile') };
}

const TICKS_PER_SECOND = 100;

/** CPU time (user + system) the process used so far, in seconds, from /proc/PID/stat. */
export function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // The command name may hold spaces; fields are counted after its closing parenthesis.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / TICKS_PER_SECOND;
}

export interface MachineCpu {
  readonly busy: number;
  readonly total: number;
}

/** Ticks of every core together, busy (anything but idle and iowait) and total, from /proc/stat. */
export function machineCpu(): MachineCpu {
  const line = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0]!;
  const ticks = line.trim().split(/\s+/).slice(1, 9).map(Number);
  const total = ticks.reduce((a, b) => a + b, 0);
  const idle = (ticks[3] ?? 0) + (ticks[4] ?? 0);
  return { busy: total - idle, total };
}
