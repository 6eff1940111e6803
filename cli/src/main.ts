#!/usr/bin/env node
// The `cloudterm` command: the entry point of every image and of local mode. The only module
// that touches `process` (arguments, environment, signals, exit).
import { runCommand } from './commands.js';
import { ConfigError } from '../../core/src/config/options.js';
import { StoreUnavailableError } from '../../gateway/src/store/types.js';
import { codeLoadingFlags } from './node-flags.js';

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
