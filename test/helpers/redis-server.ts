// Starts a real, throwaway `redis-server` on a free port for one test suite.
//
//   const redis = await startRedisServer();
//   ... connect to redis.url ...
//   await redis.kill();     // SIGKILL: Redis "goes down" (all data is lost; nothing is saved)
//   await redis.restart();  // a fresh, empty server on the same port, so clients reconnect
//   await redis.stop();     // in `after`
//
// pause()/resume() freeze the server (SIGSTOP/SIGCONT): connections stay open but nothing answers,
// like a network partition, which only client-side timeouts can detect.
import { spawn, type ChildProcess } from 'node:child_process';
import { connect, createServer } from 'node:net';

export interface RedisServer {
  /** `redis://127.0.0.1:<port>` */
  readonly url: string;
  readonly port: number;
  /** Ends the server gracefully and waits for it to exit. Safe to call more than once. */
  stop(): Promise<void>;
  /** SIGKILL, then waits for the process to be gone. */
  kill(): Promise<void>;
  /** Starts an empty server on the same port (stopping the running one first, if any). */
  restart(): Promise<void>;
  pause(): void;
  resume(): void;
}

const REDIS_SERVER = '/usr/bin/redis-server';
const START_TIMEOUT_MS = 5_000;

export async function startRedisServer(): Promise<RedisServer> {
  // Another process may grab the port between our probe and redis-server's bind; retry then.
  let lastError: unknown;
  for (let attempt = 0; attempt < 3; attempt += 1) {
    const port = await freePort();
    try {
      return new RunningRedis(port, await launch(port));
    } catch (error) {
      lastError = error;
    }
  }
  throw lastError;
}

class RunningRedis implements RedisServer {
  readonly url: string;
  private paused = false;

  constructor(
    readonly port: number,
    private child: ChildProcess | null,
  ) {
    this.url = `redis://127.0.0.1:${port}`;
  }

  async stop(): Promise<void> {
    // A stopped process cannot handle SIGTERM until it is continued.
    await this.end(this.paused ? 'SIGKILL' : 'SIGTERM');
  }

  async kill(): Promise<void> {
    await this.end('SIGKILL');
  }

  async restart(): Promise<void> {
    await this.stop();
    this.child = await launch(this.port);
  }

  pause(): void {
    this.child?.kill('SIGSTOP');
    this.paused = true;
  }

  resume(): void {
    this.child?.kill('SIGCONT');
    this.paused = false;
  }

  private async end(signal: NodeJS.Signals): Promise<void> {
    const child = this.child;
    this.child = null;
    this.paused = false;
    if (child === null || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.kill(signal);
    await exited;
  }
}

async function launch(port: number): Promise<ChildProcess> {
  const child = spawn(
    REDIS_SERVER,
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--loglevel', 'warning'],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  // A crashed test run must not leave servers behind.
  const reap = (): void => void child.kill('SIGKILL');
  process.once('exit', reap);
  child.once('exit', () => process.removeListener('exit', reap));

  const deadline = Date.now() + START_TIMEOUT_MS;
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`redis-server on port ${port} exited at start: ${output.trim()}`);
    }
    if (await answersPing(port)) return child;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  child.kill('SIGKILL');
  throw new Error(`redis-server on port ${port} did not answer PING within ${START_TIMEOUT_MS} ms: ${output.trim()}`);
}

function answersPing(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    let reply = '';
    const done = (ok: boolean): void => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(500, () => done(false));
    socket.once('error', () => done(false));
    socket.once('connect', () => socket.write('PING\r\n'));
    socket.on('data', (chunk: Buffer) => {
      reply += chunk.toString();
      if (reply.includes('\r\n')) done(reply.startsWith('+PONG'));
    });
  });
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}
