// Configuration of `cloudterm agent-host` (one process serving many terminals, for local mode),
// and its launch contract (hostArgs). Per-terminal settings (ring, resume window, attachments)
// are the agent's options, with the agent's flags; terminals themselves are opened over the
// host's HTTP surface (docs/protocol.md, "Terminal hosts").
import { ConfigError, parseOptions, usage, type OptionSpec } from '../../core/src/config/options.js';
import { formatListenAddress, parseListenAddress } from '../../core/src/net/listen-address.js';
import { directoryProblem } from '../../core/src/config/program.js';
import { agentOptionSpecs, loadProgramConfig, type ProgramConfig } from './agent-config.js';

const { publicKeyFile, publicKey, ringBytes, cwd, resumeWindow, maxAttachments } = agentOptionSpecs;

export const hostOptionSpecs = {
  listen: { flag: 'listen', kind: 'string', help: 'unix:/path of the socket (required; a host listens on a unix socket only)' },
  publicKeyFile,
  publicKey,
  ringBytes,
  cwd,
  resumeWindow,
  maxAttachments,
  maxTerminals: { flag: 'max-terminals', kind: 'integer', min: 1, max: 100_000, default: 2000, help: 'terminals open at once' },
  recordDir: { flag: 'record-dir', kind: 'string', help: 'record every terminal as <session id>.cast in this directory' },
  exitWhenIdle: { flag: 'exit-when-idle', kind: 'boolean', default: false, help: 'exit once the last terminal ended (none left for a moment)' },
} as const satisfies Record<string, OptionSpec>;

/** The header naming the terminal an attach to a host is for (lower case, as Node gives headers). */
export const SESSION_HEADER = 'cloudterm-session';

export const HOST_USAGE = `${usage('agent-host', hostOptionSpecs)}\n  -- COMMAND [ARGS...]        what each terminal runs (default: the login shell)`;

/** How to start a host: what local mode's pool decides. */
export interface HostLaunch {
  /** The unix socket the host listens on. */
  readonly socketPath: string;
  readonly publicKeyFile: string;
  readonly recordDir?: string | null;
  readonly maxTerminals?: number;
  readonly exitWhenIdle?: boolean;
  /** What each terminal runs; absent: the login shell. */
  readonly command?: readonly string[] | null;
}

/** The arguments after `cloudterm agent-host` that start a host as `launch` says. */
export function hostArgs(launch: HostLaunch): string[] {
  const args = ['--listen', formatListenAddress({ path: launch.socketPath }), '--public-key-file', launch.publicKeyFile];
  if (launch.recordDir) args.push('--record-dir', launch.recordDir);
  if (launch.maxTerminals !== undefined) args.push('--max-terminals', String(launch.maxTerminals));
  if (launch.exitWhenIdle) args.push('--exit-when-idle');
  if (launch.command && launch.command.length > 0) args.push('--', ...launch.command);
  return args;
}

export interface HostConfig extends ProgramConfig {
  readonly socketPath: string;
  readonly ringBytes: number;
  readonly resumeWindowMs: number;
  readonly maxAttachments: number;
  readonly maxTerminals: number;
  readonly recordDir: string | null;
  readonly exitWhenIdle: boolean;
}

export function loadHostConfig(argv: readonly string[], env: Readonly<Record<string, string | undefined>>): HostConfig {
  const problems: string[] = [];
  const { values, rest } = parseOptions(hostOptionSpecs, argv, env, problems);
  // Its HTTP surface opens terminals without a token: only the user may reach it (a unix socket
  // in a 0700 directory), never a TCP port.
  const listen = values.listen === undefined ? 'is required' : parseListenAddress(values.listen, '127.0.0.1');
  if (typeof listen === 'string') problems.push(`--listen: ${listen}`);
  else if (!('path' in listen)) problems.push('--listen: a terminal host listens on a unix socket only (unix:/path)');
  const recordProblem = values.recordDir === undefined ? null : directoryProblem(values.recordDir);
  if (recordProblem) problems.push(`--record-dir ${values.recordDir}: ${recordProblem}`);
  const program = loadProgramConfig(values, rest, env, problems);
  if (problems.length > 0) throw new ConfigError(problems);
  return {
    ...program,
    socketPath: (listen as { path: string }).path,
    ringBytes: values.ringBytes,
    resumeWindowMs: values.resumeWindow * 1000,
    maxAttachments: values.maxAttachments,
    maxTerminals: values.maxTerminals,
    recordDir: values.recordDir ?? null,
    exitWhenIdle: values.exitWhenIdle,
  };
}
