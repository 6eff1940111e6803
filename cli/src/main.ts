#!/usr/bin/env node
// The `cloudterm` command: the entry point of every image and of local mode. The only module
// that touches `process` (arguments, environment, signals, exit); each command is one row below,
// loaded only when it runs.
import { ConfigError } from '../../core/src/config/options.js';
import { StoreUnavailableError } from '../../gateway/src/store/types.js';
import { codeLoadingFlags } from './node-flags.js';
import type { Command, CommandIo, Environment } from '../../core/src/command.js';

// Each command loads only its own modules: the agent never loads fastify or Redis, the gateway
// never loads node-pty — every process starts faster and holds less memory.
const COMMANDS: Record<string, { run: Command; summary: string }> = {
  local: {
    run: async (...args) => (await import('../../gateway/src/gateway-command.js')).gatewayCommand('local')(...args),
    summary: 'one machine: the gateway with local shells (what npm start runs)',
  },
  gateway: {
    run: async (...args) => (await import('../../gateway/src/gateway-command.js')).gatewayCommand('gateway')(...args),
    summary: 'the session gateway for shared and cluster deployments',
  },
  agent: {
    run: async (...args) => (await import('../../agent/src/command.js')).runAgentCommand(...args),
    summary: 'serve one PTY over WebSocket (the shell end of a session)',
  },
  'agent-host': {
    run: async (...args) => (await import('../../agent/src/host-command.js')).runHostCommand(...args),
    summary: "serve many PTYs from one process, each as `agent` serves one (local mode's terminal hosts)",
  },
  operator: {
    run: async (...args) => (await import('../../operator/src/command.js')).runOperatorCommand(...args),
    summary: 'the TerminalSession operator (cluster mode): pods, access, status, expiry',
  },
  'hash-password': {
    run: async (...args) => (await import('../../gateway/src/auth/hash-password-command.js')).runHashPasswordCommand(...args),
    summary: 'read a password on stdin, print an htpasswd line (bcrypt)',
  },
  login: { run: async (...args) => (await import('../../client/src/index.js')).runLogin(...args), summary: 'log in to a gateway from this terminal' },
  logout: { run: async (...args) => (await import('../../client/src/index.js')).runLogout(...args), summary: 'revoke and forget the stored login' },
  sessions: { run: async (...args) => (await import('../../client/src/index.js')).runSessions(...args), summary: 'list your sessions' },
  new: { run: async (...args) => (await import('../../client/src/index.js')).runNew(...args), summary: 'start a session (--attach to attach to it)' },
  rm: { run: async (...args) => (await import('../../client/src/index.js')).runRm(...args), summary: 'end a session' },
  share: { run: async (...args) => (await import('../../client/src/index.js')).runShare(...args), summary: 'share a session with a user, rw or ro' },
  attach: { run: async (...args) => (await import('../../client/src/index.js')).runAttach(...args), summary: 'attach this terminal to a session (resumes after a dropped connection)' },
};

function help(): string {
  const lines = Object.entries(COMMANDS).map(([name, { summary }]) => `  ${name.padEnd(15)} ${summary}`);
  return `usage: cloudterm <command> [options]\n\ncommands:\n${lines.join('\n')}\n`;
}

async function runCommand(argv: readonly string[], env: Environment, io: CommandIo): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === 'help' || name === '--help' || name === '-h') {
    io.stdout.write(help());
    return name === undefined ? 2 : 0;
  }
  const command = COMMANDS[name];
  if (!command) {
    io.stderr.write(`cloudterm: unknown command "${name}"\n\n${help()}`);
    return 2;
  }
  return command.run(rest, env, io);
}

/** What the person who started us needs to read: the problem, not a stack, when it is theirs to fix. */
function describeFailure(error: unknown): string {
  if (error instanceof ConfigError) return error.message;
  // Redis unreachable at start: the message names where it looked; the stack would add nothing.
  if (error instanceof StoreUnavailableError) return `${error.message}: is it running, and is --redis-url right?`;
  const { code, address, port } = error as NodeJS.ErrnoException & { address?: string; port?: number };
  const where = port === undefined ? address ?? '' : `${address ?? ''}:${port}`;
  if (code === 'EADDRINUSE') return `${where} is already in use: stop what listens there, or choose another with --listen`;
  if (code === 'EACCES' && where) return `no permission to listen on ${where}: choose a port above 1023 with --listen`;
  return (error as Error).stack ?? String(error);
}

const signals = new AbortController();
for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.once(signal, () => signals.abort(signal));
}

runCommand(process.argv.slice(2), process.env, {
  stdin: process.stdin,
  stdout: process.stdout,
  stderr: process.stderr,
  stop: signals.signal,
  selfCommand: [process.execPath, ...codeLoadingFlags(process.execArgv), process.argv[1]!],
}).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    process.stderr.write(`cloudterm: ${describeFailure(error)}\n`);
    process.exitCode = error instanceof ConfigError ? 2 : 1;
  },
);
