// Starts a real gateway in-process (local backend: real agents as processes, real PTYs) on a free
// port with a fresh data directory and known users, and gives tests an HTTP client with cookies.
import { mkdtemp, writeFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { execFileSync, spawnSync } from 'node:child_process';
import bcrypt from 'bcrypt';
import { loadGatewayConfig, type GatewayConfig, type GatewayTimings } from '../../gateway/src/config/gateway-config.js';
import { startGateway, type RunningGateway } from '../../gateway/src/gateway.js';
import { TestClient, type ConnectOptions } from './agent-client.js';
import { hostStatus } from '../../gateway/src/sessions/host-client.js';

export const PASSWORDS: Record<string, string> = {
  alice: 'alice-password-1',
  bob: 'bob-password-22',
  carol: 'carol-password-333',
};

/** Runs the agent from source, as `npm test` has no build step for it. */
export const SELF_COMMAND = [process.execPath, '--import', 'tsx', join(process.cwd(), 'cli/src/main.ts')];

export interface GatewayFixture {
  readonly gateway: RunningGateway;
  readonly config: GatewayConfig;
  readonly url: string;
  readonly dataDir: string;
  /** The JSON log lines the gateway wrote. */
  readonly logs: string[];
  login(user: string, password?: string): Promise<ApiClient>;
  stop(): Promise<void>;
}

export interface ApiResponse<T = unknown> {
  readonly status: number;
  readonly headers: Headers;
  readonly body: T;
}

export class ApiClient {
  constructor(
    readonly baseUrl: string,
    public cookie: string | null,
  ) {}

  /**
   * Sends what the page would: its Origin (as browsers do on every write) and the cookie. An
   * `origin` of '' in `headers` sends none, as a script would.
   */
  async request<T = any>(method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<ApiResponse<T>> {
    const sent: Record<string, string> = {
      origin: this.baseUrl,
      ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
      ...(this.cookie ? { cookie: this.cookie } : {}),
      ...headers,
    };
    if (sent.origin === '') delete sent.origin;
    const response = await fetch(`${this.baseUrl}${path}`, {
      method,
      headers: sent,
      body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
    });
    const setCookie = response.headers.get('set-cookie');
    if (setCookie) this.cookie = setCookie.split(';')[0]!;
    const text = await response.text();
    let parsed: unknown = text;
    try {
      parsed = text ? JSON.parse(text) : null;
    } catch {
      // not JSON: keep the text
    }
    return { status: response.status, headers: response.headers, body: parsed as T };
  }

  /** Opens a WebSocket attachment through the gateway, with this client's cookie and Origin. */
  attach(
    sessionId: string,
    options: Pick<ConnectOptions, 'attachAt' | 'paused' | 'headers' | 'deflate'> & { origin?: string | null; query?: string } = {},
  ): Promise<TestClient> {
    const origin = options.origin === undefined ? this.baseUrl : options.origin;
    return TestClient.connect({
      url: `${this.baseUrl.replace('http', 'ws')}/api/sessions/${sessionId}/attach${options.query ?? ''}`,
      headers: { ...(this.cookie ? { cookie: this.cookie } : {}), ...(origin ? { origin } : {}), ...options.headers },
      attachAt: options.attachAt,
      paused: options.paused,
      deflate: options.deflate,
    });
  }
}

export interface GatewayFixtureOptions {
  readonly redisUrl?: string;
  readonly args?: string[];
  readonly reapIntervalMs?: number;
  readonly activityIntervalMs?: number;
  readonly upstreamTimeoutMs?: number;
  readonly revocationCheckMs?: number;
  readonly requestTimeoutMs?: number;
  readonly dataDir?: string;
  /** Other intervals and timeouts (GATEWAY_TIMINGS). */
  readonly timings?: Partial<GatewayTimings>;
  /** More of the gateway's environment (what its local agents may or may not inherit). */
  readonly env?: Readonly<Record<string, string>>;
}

/** What the command line of every agent a gateway started names: its data directory's key file. */
const agentPattern = (dataDir: string) => `--public-key-file ${dataDir}/keys/attach.pub`;

/** Ends the detached agents of a data directory. */
export function stopAllAgents(dataDir: string): void {
  try {
    execFileSync('pkill', ['-f', '--', agentPattern(dataDir)]);
  } catch {
    // none were running
  }
}

/** The pid of the terminal host serving a session (local mode), from its record's endpoint. */
export async function terminalHostPid(gateway: RunningGateway, sessionId: string): Promise<number> {
  const record = await gateway.stores.sessions.get(sessionId);
  if (!record?.endpoint.startsWith('unix:')) throw new Error(`session ${sessionId} has no terminal host`);
  const status = await hostStatus(record.endpoint.slice('unix:'.length), 2_000);
  if (status?.status !== 200) throw new Error(`the terminal host of ${sessionId} does not answer`);
  return status.body.pid;
}

/** The pids of the agents of a data directory still running. */
export function runningAgents(dataDir: string): number[] {
  // pgrep: status 0 = found, 1 = none; anything else is a broken check, not an answer.
  const found = spawnSync('pgrep', ['-f', '--', agentPattern(dataDir)], { encoding: 'utf8' });
  if (found.status !== 0 && found.status !== 1) throw new Error(`pgrep failed: ${found.stderr}`);
  return found.stdout.split('\n').filter(Boolean).map(Number);
}

export async function writeUsersFile(dir: string): Promise<string> {
  const lines = await Promise.all(Object.entries(PASSWORDS).map(async ([user, password]) => `${user}:${await bcrypt.hash(password, 4)}`));
  const path = join(dir, 'users.htpasswd');
  await writeFile(path, `${lines.join('\n')}\n`, { mode: 0o600 });
  return path;
}

export async function startGatewayFixture(options: GatewayFixtureOptions = {}): Promise<GatewayFixture> {
  const dataDir = options.dataDir ?? (await mkdtemp(join(tmpdir(), 'cloudterm-gw-')));
  const usersFile = await writeUsersFile(dataDir);
  const config = loadGatewayConfig(
    'local',
    [
      '--listen', '127.0.0.1:0',
      '--data-dir', dataDir,
      '--users-file', usersFile,
      '--shell', '/bin/sh',
      '--log-level', 'info',
      ...(options.redisUrl ? ['--redis-url', options.redisUrl] : []),
      ...(options.args ?? []),
    ],
    {},
  );
  const logs: string[] = [];
  const logDestination = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      logs.push(...chunk.toString().split('\n').filter(Boolean));
      callback();
    },
  });
  const gateway = await startGateway(config, {
    selfCommand: SELF_COMMAND,
    env: { PATH: '/usr/local/bin:/usr/bin:/bin', HOME: dataDir, LANG: 'C.UTF-8', PS1: '$ ', ...options.env },
    uiRoot: null,
    logDestination,
    timings: {
      reapIntervalMs: options.reapIntervalMs ?? 200,
      activityIntervalMs: options.activityIntervalMs ?? 200,
      upstreamTimeoutMs: options.upstreamTimeoutMs ?? 2_000,
      revocationCheckMs: options.revocationCheckMs ?? 300,
      ...(options.requestTimeoutMs === undefined ? {} : { requestTimeoutMs: options.requestTimeoutMs }),
      ...options.timings,
    },
    processMetrics: false,
  });
  return {
    gateway,
    config,
    url: gateway.url,
    dataDir,
    logs,
    login: async (user, password = PASSWORDS[user]) => {
      const client = new ApiClient(gateway.url, null);
      const response = await client.request('POST', '/api/login', { username: user, password });
      if (response.status !== 200) throw new Error(`login ${user}: ${response.status} ${JSON.stringify(response.body)}`);
      return client;
    },
    stop: async () => {
      await gateway.close();
      // Agents are detached and outlive the gateway by design: end the ones it started.
      stopAllAgents(dataDir);
      if (!options.dataDir) await rm(dataDir, { recursive: true, force: true });
    },
  };
}
