// A gateway as its own process (local mode), for tests that stop and restart it. Agents it
// starts are detached and outlive it, as in production; stopAllAgents() ends them.
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createServer } from 'node:net';
import { SELF_COMMAND } from './gateway-fixture.js';

export { stopAllAgents } from './gateway-fixture.js';

export async function freePort(): Promise<number> {
  const server = createServer().listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as { port: number };
  server.close();
  return port;
}

export interface GatewayProcess {
  readonly child: ChildProcess;
  readonly url: string;
  /** SIGTERM (graceful: attachments get 4000) and wait for the exit. */
  stop(): Promise<void>;
}

export async function startGatewayProcess(options: {
  port: number;
  dataDir: string;
  usersFile: string;
  args?: readonly string[];
}): Promise<GatewayProcess> {
  const [command, ...prefix] = SELF_COMMAND;
  const child = spawn(
    command!,
    [
      ...prefix, 'local',
      '--listen', `127.0.0.1:${options.port}`,
      '--data-dir', options.dataDir,
      '--users-file', options.usersFile,
      '--shell', '/bin/sh',
      ...(options.args ?? []),
    ],
    { stdio: ['ignore', 'pipe', 'pipe'], env: { PATH: process.env.PATH, HOME: options.dataDir, LANG: 'C.UTF-8' } },
  );
  let out = '';
  child.stdout!.on('data', (chunk: Buffer) => (out += chunk));
  child.stderr!.on('data', (chunk: Buffer) => (out += chunk));
  const deadline = Date.now() + 30_000;
  while (!out.includes('Gateway listening')) {
    if (Date.now() > deadline || child.exitCode !== null) {
      child.kill('SIGKILL');
      throw new Error(`gateway did not start: ${out}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    child,
    url: `http://127.0.0.1:${options.port}`,
    stop: async () => {
      // A process ended by a signal has no exit code, only a signal code: waiting for its
      // 'exit' then would wait forever.
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = once(child, 'exit');
      child.kill('SIGTERM');
      await exited;
    },
  };
}
