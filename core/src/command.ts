// What every `cloudterm` sub-command is given: the arguments, the environment and the standard
// streams explicitly (never `process`), so that tests can run a command in-process.
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

/** A sub-command: resolves to the process's exit code. */
export type Command = (argv: readonly string[], env: Environment, io: CommandIo) => Promise<number>;
