// Command lines of the client commands: positional arguments (a URL, a session) beside the
// project's declarative options (flag, environment variable, help), every problem reported at once.
import { parseOptions, usage as optionsUsage, type OptionSpec, type OptionValues } from '../../core/src/config/options.js';
import type { Environment } from '../../core/src/command.js';
import { ClientError } from './errors.js';

export interface CommandSpec<S extends Record<string, OptionSpec>> {
  /** `attach ID|NAME`: the command and its positional arguments, as usage shows them. */
  readonly synopsis: string;
  readonly summary: string;
  readonly options: S;
  /** Names of the positional arguments, in order; those ending in `?` may be left out. */
  readonly positionals: readonly string[];
}

export interface ParsedCommand<S extends Record<string, OptionSpec>> {
  readonly values: OptionValues<S>;
  readonly args: readonly string[];
}

export function commandUsage(spec: CommandSpec<Record<string, OptionSpec>>): string {
  const options = optionsUsage(spec.synopsis, spec.options).split('\n').slice(1);
  return [`usage: cloudterm ${spec.synopsis}${options.length ? ' [options]' : ''}`, `${spec.summary}`, ...options].join('\n');
}

/** True when the user asked for help (before any `--`): the caller prints the usage and exits 0. */
export function wantsHelp(argv: readonly string[]): boolean {
  const end = argv.indexOf('--');
  const options = end === -1 ? argv : argv.slice(0, end);
  return options.includes('--help') || options.includes('-h');
}

/** Parses `argv`; a ClientError('usage') names every problem and shows the usage. */
export function parseCommand<S extends Record<string, OptionSpec>>(spec: CommandSpec<S>, argv: readonly string[], env: Environment): ParsedCommand<S> {
  const flags: string[] = [];
  const args: string[] = [];
  const takesValue = new Set(Object.values(spec.options).filter((option) => option.kind !== 'boolean').map((option) => `--${option.flag}`));
  for (let i = 0; i < argv.length; i += 1) {
    const arg = argv[i]!;
    // Session ids may begin with "-" (base64url): only "--" starts an option, and after a bare
    // "--" everything is an argument (`cloudterm attach -- --id`).
    if (arg === '--') {
      args.push(...argv.slice(i + 1));
      break;
    }
    if (!arg.startsWith('--')) {
      args.push(arg);
      continue;
    }
    flags.push(arg);
    if (takesValue.has(arg) && i + 1 < argv.length) flags.push(argv[(i += 1)]!);
  }
  const problems: string[] = [];
  const { values } = parseOptions(spec.options, flags, env, problems);
  const required = spec.positionals.filter((name) => !name.endsWith('?'));
  if (args.length < required.length) problems.push(`missing ${required.slice(args.length).join(' ')}`);
  if (args.length > spec.positionals.length) problems.push(`unexpected argument "${args[spec.positionals.length]}"`);
  if (problems.length > 0) throw new ClientError('usage', `${problems.join('; ')}\n${commandUsage(spec)}`);
  return { values, args };
}
