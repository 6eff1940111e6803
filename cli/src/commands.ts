// Sub-command dispatch. Each command gets the arguments, the environment and the standard streams
// explicitly, so tests can run them in-process.
import type { Readable, Writable } from 'node:stream';

export interface CommandIo {
  readonly stdin: Readable;
  readonly stdout: Writable;
  readonly stderr: Writable;
  /** Aborted on SIGTERM or SIGINT. */
  readonly stop: AbortSignal;
  /** How to run this program again (local mode starts agents with it): our code-loading flags, not our V8 tuning. */
  readonly selfCommand: readonly string[];
}

export type Environment = Readonly<Record<string, string | undefined>>;

type Command = (argv: readonly string[], env: Environment, io: CommandIo) => Promise<number>;

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
  operator: {
    run: async (...args) => (await import('../../operator/src/command.js')).runOperatorCommand(...args),
    summary: 'the TerminalSession operator (cluster mode): pods, access, status, expiry',
  },
  'hash-password': {
    run: async (...args) => (await import('../../gateway/src/auth/hash-password-command.js')).runHashPasswordCommand(...args),
    summary: 'read a password on stdin, print an htpasswd line (bcrypt)',
  },
};

function help(): string {
  const lines = Object.entries(COMMANDS).map(([name, { summary }]) => `  ${name.padEnd(15)} ${summary}`);
  return `usage: cloudterm <command> [options]\n\ncommands:\n${lines.join('\n')}\n`;
}

export async function runCommand(argv: readonly string[], env: Environment, io: CommandIo): Promise<number> {
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
