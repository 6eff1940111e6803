// The page's static assets: the gateway (which holds the precompressed build in memory) beside
// nginx from Debian serving the same directory (sendfile, gzip on, gzip_static on), measured by
// wrk in the same run. On 2 cores wrk competes with the server for the CPU: read the figures as
// "what one machine does with client and server on it", the same for both servers.
import { execFile } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  REPO_ROOT,
  cpuSeconds,
  freePort,
  rssKiB,
  spread,
  startGatewayProc,
  startProc,
  waitForPort,
  type GatewayProc,
  type Proc,
  type Spread,
} from './gateway-support.js';
import { SECURITY_HEADERS } from '../gateway/src/http/static-assets.js';

const UI_ROOT = join(REPO_ROOT, 'gateway/ui/dist');

export interface StaticOptions {
  readonly seconds: number;
  readonly connections: number;
  readonly threads: number;
  readonly runs: number;
  /** nginx worker_processes to compare (the gateway is one thread of JavaScript). */
  readonly nginxWorkers: readonly number[];
  /**
   * nginx as a plain static site, and/or sending the page's own headers (its CSP, nosniff, frame
   * and referrer policies, ETag and Vary, as the gateway does): what serving this page takes.
   */
  readonly nginxHeaders: readonly NginxHeaders[];
  /** More Node flags for the gateway process (e.g. the lean memory profile). */
  readonly gatewayNodeFlags: readonly string[];
  readonly log: (line: string) => void;
}

export const NGINX_HEADERS = ['plain', 'page'] as const;
export type NginxHeaders = (typeof NGINX_HEADERS)[number];

interface Case {
  readonly name: string;
  readonly path: string;
  readonly acceptEncoding: string | null;
}

export interface Response {
  readonly status: number;
  readonly contentEncoding: string;
  readonly bodyBytes: number;
  readonly headerBytes: number;
}

export interface WrkRun {
  readonly requestsPerSecond: number;
  readonly bytesPerSecond: number;
  readonly latencyMs: { avg: number; p50: number; p99: number; max: number };
  readonly errors: string;
  readonly serverCpuShare: number;
}

export interface StaticRow {
  readonly server: string;
  readonly case: string;
  readonly url: string;
  readonly acceptEncoding: string | null;
  readonly response: Response;
  readonly requestsPerSecond: Spread;
  /** Bytes transferred per second (wrk's figure: headers and bodies), decimal GB. */
  readonly gigabytesPerSecond: Spread;
  readonly gigabitsPerSecond: Spread;
  readonly runs: readonly WrkRun[];
  readonly serverRssKiB: number;
}

export interface StaticFigures {
  readonly rows: readonly StaticRow[];
  readonly wrk: string;
  readonly nginxConfig: string;
}

function largestScript(): string {
  const manifest = JSON.parse(readFileSync(join(UI_ROOT, 'manifest.json'), 'utf8')) as { files: { path: string; size: number; contentType: string; immutable: boolean }[] };
  const scripts = manifest.files.filter((f) => f.immutable && f.contentType.startsWith('text/javascript')).sort((a, b) => b.size - a.size);
  if (!scripts[0]) throw new Error('the manifest lists no script');
  return `/${scripts[0].path}`;
}

/** add_header lines for the page's security headers; `always` so that 304s carry them too, as the gateway's do. */
function pageHeaderLines(): string {
  return Object.entries(SECURITY_HEADERS)
    .map(([name, value]) => `add_header ${name} "${value}" always;`)
    .join(' ');
}

function nginxConfig(prefix: string, port: number, workers: number, headers: NginxHeaders): string {
  // A location with add_header of its own inherits none from its server: each lists them all.
  const page = headers === 'page' ? ` ${pageHeaderLines()}` : '';
  return `# Debian's defaults where they matter (sendfile, tcp_nopush, gzip on) plus gzip_static, as a
# static site would be set up; access_log off as the gateway logs no requests at warn.
daemon off;
master_process on;
worker_processes ${workers};
worker_rlimit_nofile 65536;
pid ${prefix}/nginx.pid;
error_log ${prefix}/error.log warn;
events { worker_connections 4096; }
http {
  include /etc/nginx/mime.types;
  default_type application/octet-stream;
  access_log off;
  sendfile on;
  tcp_nopush on;
  tcp_nodelay on;
  keepalive_requests 1000000;
  gzip on;
  gzip_static on;
  gzip_vary on;
  gzip_types text/css text/javascript application/javascript application/json image/svg+xml;
  open_file_cache max=1000 inactive=60s;
  client_body_temp_path ${prefix}/body;
  proxy_temp_path ${prefix}/proxy;
  fastcgi_temp_path ${prefix}/fastcgi;
  uwsgi_temp_path ${prefix}/uwsgi;
  scgi_temp_path ${prefix}/scgi;
  server {
    listen 127.0.0.1:${port};
    root ${UI_ROOT};
    index index.html;
    location /assets/ { add_header Cache-Control "public, max-age=31536000, immutable";${page} }
    location = /index.html { add_header Cache-Control "no-cache";${page} }
  }
}
`;
}

/** One request, to record what a server answers (encoding, sizes) before it is measured. */
function fetchOnce(port: number, path: string, acceptEncoding: string | null): Promise<Response> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, headers: acceptEncoding ? { 'accept-encoding': acceptEncoding } : {} }, (res) => {
      let bodyBytes = 0;
      res.on('data', (chunk: Buffer) => (bodyBytes += chunk.length));
      res.on('end', () => {
        // "Name: value\r\n" per header, the status line and the blank line.
        const headerBytes = res.rawHeaders.reduce((sum, h) => sum + Buffer.byteLength(h) + 2, 0) + `HTTP/1.1 ${res.statusCode} ${res.statusMessage}\r\n\r\n`.length;
        resolve({ status: res.statusCode ?? 0, contentEncoding: String(res.headers['content-encoding'] ?? 'identity'), bodyBytes, headerBytes });
      });
    });
    req.on('error', reject);
    req.end();
  });
}

const UNITS: Record<string, number> = { B: 1, KB: 1024, MB: 1024 ** 2, GB: 1024 ** 3, TB: 1024 ** 4 };
const TIME: Record<string, number> = { us: 0.001, ms: 1, s: 1000, m: 60_000 };

function parseTime(text: string | undefined): number {
  const match = /^([\d.]+)(us|ms|s|m)$/.exec(text ?? '');
  return match ? Number(match[1]) * TIME[match[2]!]! : Number.NaN;
}

export function parseWrk(output: string): Omit<WrkRun, 'serverCpuShare'> {
  const rps = Number(/^Requests\/sec:\s+([\d.]+)/m.exec(output)?.[1]);
  const transfer = /^Transfer\/sec:\s+([\d.]+)(B|KB|MB|GB|TB)/m.exec(output);
  const bytesPerSecond = transfer ? Number(transfer[1]) * UNITS[transfer[2]!]! : Number.NaN;
  const lat = /^\s+Latency\s+(\S+)\s+(\S+)\s+(\S+)/m.exec(output);
  const errors = [/^\s+Socket errors:.*$/m.exec(output)?.[0]?.trim(), /^\s+Non-2xx or 3xx responses:.*$/m.exec(output)?.[0]?.trim()].filter(Boolean).join('; ');
  if (!Number.isFinite(rps)) throw new Error(`cannot read wrk's output:\n${output}`);
  return {
    requestsPerSecond: rps,
    bytesPerSecond,
    latencyMs: {
      avg: parseTime(lat?.[1]),
      p50: parseTime(/^\s+50%\s+(\S+)/m.exec(output)?.[1]),
      p99: parseTime(/^\s+99%\s+(\S+)/m.exec(output)?.[1]),
      max: parseTime(lat?.[3]),
    },
    errors,
  };
}

function runWrk(args: readonly string[], timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile('wrk', [...args], { timeout: timeoutMs, maxBuffer: 1024 * 1024 }, (error, stdout, stderr) => {
      if (error) reject(new Error(`wrk failed: ${error.message}\n${stderr}`));
      else resolve(stdout);
    });
  });
}

/** nginx's master and its workers. */
function processTree(root: number): number[] {
  const pids = [root];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === root) pids.push(Number(entry));
    } catch {
      // gone meanwhile
    }
  }
  return pids;
}

interface Server {
  readonly name: string;
  readonly port: number;
  readonly pids: () => number[];
  stop(): Promise<void>;
}

async function startGatewayServer(nodeFlags: readonly string[]): Promise<Server> {
  const gateway: GatewayProc = await startGatewayProc({ nodeFlags });
  return { name: 'gateway', port: gateway.port, pids: () => [gateway.proc.pid], stop: () => gateway.stop() };
}

async function startNginx(workers: number, headers: NginxHeaders): Promise<Server & { config: string }> {
  const prefix = await mkdtemp(join(tmpdir(), 'ctbench-nginx-'));
  const port = await freePort();
  const config = nginxConfig(prefix, port, workers, headers);
  const configFile = join(prefix, 'nginx.conf');
  await writeFile(configFile, config);
  const name = `nginx (${workers} worker${workers > 1 ? 's' : ''}${headers === 'page' ? ", the page's headers" : ''})`;
  const proc: Proc = startProc(name, '/usr/sbin/nginx', ['-p', prefix, '-e', join(prefix, 'error.log'), '-c', configFile]);
  await waitForPort(port, 10_000, proc);
  const stop = async () => {
    await proc.stop(5_000, 'SIGQUIT');
    await rm(prefix, { recursive: true, force: true });
  };
  return { name: proc.name, port, pids: () => processTree(proc.pid), stop, config };
}

export async function measureStatic(options: StaticOptions): Promise<StaticFigures> {
  const script = largestScript();
  const cases: Case[] = [
    { name: 'JS bundle, Accept-Encoding: gzip, br', path: script, acceptEncoding: 'gzip, br' },
    { name: 'JS bundle, Accept-Encoding: gzip', path: script, acceptEncoding: 'gzip' },
    { name: 'JS bundle, uncompressed', path: script, acceptEncoding: null },
    { name: 'index.html (/), gzip, br', path: '/', acceptEncoding: 'gzip, br' },
  ];
  const rows: StaticRow[] = [];
  let nginxConfigText = '';
  const starters: (() => Promise<Server>)[] = [
    () => startGatewayServer(options.gatewayNodeFlags),
    ...options.nginxWorkers.flatMap((workers) =>
      options.nginxHeaders.map((headers) => async () => {
        const server = await startNginx(workers, headers);
        nginxConfigText = server.config;
        return server;
      }),
    ),
  ];
  for (const start of starters) {
    const server = await start();
    try {
      const wrkArgs = (seconds: number, c: Case) => [
        `-t${options.threads}`,
        `-c${options.connections}`,
        `-d${seconds}s`,
        '--latency',
        ...(c.acceptEncoding ? ['-H', `Accept-Encoding: ${c.acceptEncoding}`] : []),
        `http://127.0.0.1:${server.port}${c.path}`,
      ];
      // Warm-up, not recorded: the gateway's JIT, nginx's open-file cache, the page cache.
      for (const c of cases) await runWrk(wrkArgs(2, c), 30_000);
      for (const c of cases) {
        const response = await fetchOnce(server.port, c.path, c.acceptEncoding);
        if (response.status !== 200) throw new Error(`${server.name} answered ${response.status} for ${c.path}`);
        const runs: WrkRun[] = [];
        for (let run = 0; run < options.runs; run++) {
          const pids = server.pids();
          const cpuBefore = pids.reduce((sum, pid) => sum + cpuSeconds(pid), 0);
          const output = await runWrk(wrkArgs(options.seconds, c), (options.seconds + 30) * 1000);
          const cpu = server.pids().reduce((sum, pid) => sum + cpuSeconds(pid), 0) - cpuBefore;
          runs.push({ ...parseWrk(output), serverCpuShare: cpu / options.seconds });
        }
        const rps = spread(runs.map((r) => r.requestsPerSecond));
        const gbps = spread(runs.map((r) => r.bytesPerSecond / 1e9));
        const row: StaticRow = {
          server: server.name,
          case: c.name,
          url: c.path,
          acceptEncoding: c.acceptEncoding,
          response,
          requestsPerSecond: rps,
          gigabytesPerSecond: gbps,
          gigabitsPerSecond: spread(runs.map((r) => (r.bytesPerSecond * 8) / 1e9)),
          runs,
          serverRssKiB: server.pids().reduce((sum, pid) => sum + rssKiB(pid), 0),
        };
        rows.push(row);
        options.log(
          `  ${server.name} ${c.name}: ${rps.mean.toFixed(0)} req/s, ${gbps.mean.toFixed(3)} GB/s ` +
            `(${response.contentEncoding}, ${response.bodyBytes} B body), CPU ${(runs[0]!.serverCpuShare * 100).toFixed(0)}%${runs.some((r) => r.errors) ? ` errors: ${runs.map((r) => r.errors).join(' / ')}` : ''}`,
        );
      }
    } finally {
      await server.stop();
    }
  }
  const wrkVersion = await new Promise<string>((resolve) => execFile('wrk', ['-v'], (_e, stdout, stderr) => resolve(`${stdout}${stderr}`.trim().split('\n')[0] ?? '')));
  return { rows, wrk: wrkVersion, nginxConfig: nginxConfigText };
}
