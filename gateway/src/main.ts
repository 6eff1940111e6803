#!/usr/bin/env node
// The `cloudterm` command: the entry point of every image and of local mode. The only module
// that touches `process` (arguments, environment, signals, exit).
import { runCommand } from './cli.js';
import { ConfigError } from './config/options.js';

const signals = new AbortController();
for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.once(signal, () => signals.abort(signal));
}

runCommand(process.argv.slice(2), process.env, {
  stdin: process.stdin,
  stdout: process.stdout,
  stderr: process.stderr,
  stop: signals.signal,
  selfCommand: [process.execPath, ...process.execArgv, process.argv[1]!],
}).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    process.stderr.write(`cloudterm: ${error instanceof ConfigError ? error.message : (error as Error).stack ?? error}\n`);
    process.exitCode = error instanceof ConfigError ? 2 : 1;
  },
);
