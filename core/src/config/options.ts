// A small declarative option parser: each option has a flag, an environment variable and a
// default; flags win over the environment. Parsing collects every problem and reports them
// together, so a misconfigured deployment is fixed in one go.
import { readFile } from 'node:fs/promises';

export type OptionKind = 'string' | 'integer' | 'boolean';

export interface OptionSpec {
  readonly flag: string;
  readonly env?: string;
  readonly kind: OptionKind;
  readonly help: string;
  readonly min?: number;
  readonly max?: number;
  /** The value when neither the flag nor the variable is given (shown by --help); none: undefined. */
  readonly default?: string | number | boolean;
}

type ValueOf<S extends OptionSpec> = S['kind'] extends 'integer' ? number : S['kind'] extends 'boolean' ? boolean : string;

/** Parsed values: an option with a default always has one; one without may be undefined. */
export type OptionValues<S extends Record<string, OptionSpec>> = {
  [K in keyof S]: ValueOf<S[K]> | (S[K] extends { readonly default: unknown } ? never : undefined);
};

const CONFIG_ERROR_HEADING = 'invalid configuration:';
const CONFIG_PROBLEM_BULLET = '  - ';

export class ConfigError extends Error {
  override readonly name: string = 'ConfigError';
  constructor(readonly problems: readonly string[]) {
    super([CONFIG_ERROR_HEADING, ...problems.map((problem) => `${CONFIG_PROBLEM_BULLET}${problem}`)].join('\n'));
  }

  /**
   * The problems of the last ConfigError printed in `text` (a process's output: a local agent
   * that refused its configuration writes it to its log); none if there is none.
   */
  static problemsPrintedIn(text: string): string[] {
    const start = text.lastIndexOf(`${CONFIG_ERROR_HEADING}\n`);
    if (start < 0) return [];
    const lines = text.slice(start + CONFIG_ERROR_HEADING.length + 1).split('\n');
    const end = lines.findIndex((line) => !line.startsWith(CONFIG_PROBLEM_BULLET));
    return lines.slice(0, end < 0 ? lines.length : end).map((line) => line.slice(CONFIG_PROBLEM_BULLET.length));
  }
}

/**
 * Why a file or directory a person named could not be used, in words; `ifMissing` says what a
 * missing path means where it was needed (no such file, no such directory to write into, …).
 */
export function fsProblem(error: NodeJS.ErrnoException, ifMissing: string): string {
  switch (error.code) {
    case 'ENOENT':
      return ifMissing;
    case 'EACCES':
    case 'EPERM':
      return 'permission denied';
    case 'ENOTDIR':
      return 'a part of the path is a file, not a directory';
    case 'EROFS':
      return 'read-only file system';
    default:
      return error.message;
  }
}

/** Reads a file named by `--flag`; one that cannot be read is noted in `problems` (null returned). */
export async function readNamedFile(flag: string, path: string, problems: string[]): Promise<Buffer | null> {
  try {
    return await readFile(path);
  } catch (error) {
    problems.push(`--${flag} ${path}: ${fsProblem(error as NodeJS.ErrnoException, 'no such file')}`);
    return null;
  }
}

/** Reads a file named by `--flag` as text; a file that cannot be read is a ConfigError. */
export async function readConfigFile(flag: string, path: string): Promise<string> {
  const problems: string[] = [];
  const bytes = await readNamedFile(flag, path, problems);
  if (bytes === null) throw new ConfigError(problems);
  return bytes.toString('utf8');
}

/** Like Promise.all, but the configuration problems of every promise are reported together. */
export async function allReported<T extends readonly unknown[]>(promises: { readonly [K in keyof T]: Promise<T[K]> }): Promise<T> {
  const results = await Promise.allSettled(promises);
  const problems = results.flatMap((r) => (r.status === 'rejected' && r.reason instanceof ConfigError ? r.reason.problems : []));
  if (problems.length > 0) throw new ConfigError(problems);
  return results.map((r) => {
    if (r.status === 'rejected') throw r.reason;
    return r.value;
  }) as unknown as T;
}

/** Every problem found in one configuration file (users, tenants), reported together. */
export class ConfigFileError extends ConfigError {
  constructor(
    readonly fileName: string,
    problems: readonly string[],
  ) {
    super(problems);
    this.message = `${fileName}: ${problems.length} problem${problems.length === 1 ? '' : 's'}:\n${problems.map((p) => `  - ${p}`).join('\n')}`;
  }
}

export interface ParsedArgs<S extends Record<string, OptionSpec>> {
  readonly values: OptionValues<S>;
  /** Everything after `--`. */
  readonly rest: readonly string[];
}

/**
 * Parses `--flag value`, `--flag=value` and bare `--flag` for booleans. Problems are pushed onto
 * `problems`; the caller throws a ConfigError once it has checked everything else too.
 */
export function parseOptions<S extends Record<string, OptionSpec>>(
  specs: S,
  argv: readonly string[],
  env: Readonly<Record<string, string | undefined>>,
  problems: string[],
): ParsedArgs<S> {
  const byFlag = new Map(Object.entries(specs).map(([key, spec]) => [spec.flag, key]));
  const raw = new Map<string, string>();
  const dashDash = argv.indexOf('--');
  const args = dashDash === -1 ? argv : argv.slice(0, dashDash);
  const rest = dashDash === -1 ? [] : argv.slice(dashDash + 1);

  for (let i = 0; i < args.length; i += 1) {
    const arg = args[i]!;
    const match = /^--([a-z0-9-]+)(?:=(.*))?$/.exec(arg);
    const key = match ? byFlag.get(match[1]!) : undefined;
    if (!match || key === undefined) {
      problems.push(`unknown argument "${arg}"`);
      continue;
    }
    const spec = specs[key]!;
    if (match[2] !== undefined) raw.set(key, match[2]);
    else if (spec.kind === 'boolean') raw.set(key, 'true');
    else if (i + 1 < args.length) raw.set(key, args[(i += 1)]!);
    else problems.push(`--${spec.flag} needs a value`);
  }

  const values: Record<string, unknown> = {};
  for (const [key, spec] of Object.entries(specs)) {
    const fromFlag = raw.get(key);
    const text = fromFlag ?? (spec.env ? env[spec.env] : undefined);
    const source = fromFlag !== undefined ? `--${spec.flag}` : spec.env ?? `--${spec.flag}`;
    if (text === undefined || text === '') {
      if (spec.default !== undefined) values[key] = spec.default;
      continue;
    }
    values[key] = convert(spec, text, source, problems);
  }
  return { values: values as OptionValues<S>, rest };
}

/**
 * Variables a part used to read under another name: one still set is a problem naming the new
 * name, not a setting silently ignored (a gateway that would listen somewhere else than told).
 */
export function checkRenamedVariables(renamed: Readonly<Record<string, string>>, env: Readonly<Record<string, string | undefined>>, problems: string[]): void {
  for (const [old, current] of Object.entries(renamed)) {
    if (env[old] !== undefined) problems.push(`${old} is no longer read: set ${current} instead`);
  }
}

function convert(spec: OptionSpec, text: string, source: string, problems: string[]): unknown {
  switch (spec.kind) {
    case 'string':
      return text;
    case 'boolean':
      if (['true', '1', 'yes'].includes(text)) return true;
      if (['false', '0', 'no'].includes(text)) return false;
      problems.push(`${source} must be true or false, got "${text}"`);
      return undefined;
    case 'integer': {
      const value = parseSize(text);
      if (value === null) {
        problems.push(`${source} must be a whole number (suffixes k, Ki, M, Mi allowed), got "${text}"`);
        return undefined;
      }
      if ((spec.min !== undefined && value < spec.min) || (spec.max !== undefined && value > spec.max)) {
        problems.push(`${source} must be between ${spec.min ?? '-∞'} and ${spec.max ?? '∞'}, got ${value}`);
        return undefined;
      }
      return value;
    }
  }
}

const SUFFIXES: Record<string, number> = { '': 1, k: 1e3, Ki: 1024, M: 1e6, Mi: 1024 ** 2, G: 1e9, Gi: 1024 ** 3 };

/** `1048576`, `1Mi`, `512Ki`, `10k` → a whole number, or null. */
export function parseSize(text: string): number | null {
  const match = /^(\d+)(k|Ki|M|Mi|G|Gi)?$/.exec(text.trim());
  if (!match) return null;
  const value = Number(match[1]) * SUFFIXES[match[2] ?? '']!;
  return Number.isSafeInteger(value) ? value : null;
}

/** A default as a person would write it: sizes in Ki/Mi/Gi where they divide evenly. */
function formatDefault(spec: OptionSpec): string {
  const value = spec.default;
  if (spec.kind !== 'integer' || typeof value !== 'number' || value < 1024) return String(value);
  const unit = (['Gi', 'Mi', 'Ki'] as const).find((suffix) => value % SUFFIXES[suffix]! === 0);
  return unit ? `${value / SUFFIXES[unit]!}${unit}` : String(value);
}

export function usage(command: string, specs: Record<string, OptionSpec>): string {
  const lines = Object.values(specs).map((spec) => {
    const fallback = spec.default === undefined ? '' : ` (default ${formatDefault(spec)})`;
    return `  --${spec.flag.padEnd(22)} ${spec.help}${fallback}${spec.env ? ` [env ${spec.env}]` : ''}`;
  });
  return `usage: cloudterm ${command} [options]\n${lines.join('\n')}`;
}
