// Configuration of `cloudterm agent`, from flags and CLOUDTERM_AGENT_* environment variables, and
// the launch contract that writes those flags (agentArgs).
import { readFileSync } from 'node:fs';
import { userInfo } from 'node:os';
import { ConfigError, checkRenamedVariables, parseOptions, usage, type OptionSpec, type OptionValues } from '../../core/src/config/options.js';
import { formatListenAddress, parseListenAddress, type ListenAddress } from '../../core/src/net/listen-address.js';
import { MAX_COLS, MAX_ROWS } from '../../core/src/protocol/messages.js';
import { directoryProblem, programProblem } from '../../core/src/config/program.js';
import { loadPtyReader } from './pty-output.js';

export const agentOptionSpecs = {
  listen: { flag: 'listen', env: 'CLOUDTERM_AGENT_LISTEN', kind: 'string', default: '127.0.0.1:7681', help: 'port, host:port or unix:/path' },
  sessionId: { flag: 'session-id', env: 'CLOUDTERM_AGENT_SESSION_ID', kind: 'string', help: 'the session this agent serves (required)' },
  publicKeyFile: { flag: 'public-key-file', env: 'CLOUDTERM_AGENT_PUBLIC_KEY_FILE', kind: 'string', help: "PEM file of the gateway's public key" },
  publicKey: { flag: 'public-key', env: 'CLOUDTERM_AGENT_PUBLIC_KEY', kind: 'string', help: "the gateway's public key as PEM text" },
  ringBytes: { flag: 'ring-bytes', env: 'CLOUDTERM_AGENT_RING_BYTES', kind: 'integer', min: 128 * 1024, max: 1024 ** 3, default: 1024 * 1024, help: 'output kept for resuming (at least 128Ki)' },
  record: { flag: 'record', env: 'CLOUDTERM_AGENT_RECORD', kind: 'string', help: 'write an asciicast v2 recording to this file' },
  cols: { flag: 'cols', kind: 'integer', min: 1, max: MAX_COLS, default: 80, help: 'initial columns' },
  rows: { flag: 'rows', kind: 'integer', min: 1, max: MAX_ROWS, default: 24, help: 'initial rows' },
  cwd: { flag: 'cwd', env: 'CLOUDTERM_AGENT_CWD', kind: 'string', help: 'working directory of the command (default: home)' },
  resumeWindow: { flag: 'resume-window', env: 'CLOUDTERM_AGENT_RESUME_WINDOW', kind: 'integer', min: 0, max: 86400, default: 60, help: "seconds a detached client's position holds the program back so it can resume losslessly (0 = never)" },
  maxAttachments: { flag: 'max-attachments', env: 'CLOUDTERM_AGENT_MAX_ATTACHMENTS', kind: 'integer', min: 1, max: 100_000, default: 256, help: 'clients attached at once' },
} as const satisfies Record<string, OptionSpec>;

/** The agent's variables before they were prefixed CLOUDTERM_AGENT_ (docs/decisions.md). */
export const RENAMED_AGENT_VARIABLES: Readonly<Record<string, string>> = {
  CLOUDTERM_SESSION_ID: 'CLOUDTERM_AGENT_SESSION_ID',
  CLOUDTERM_ATTACH_PUBLIC_KEY_FILE: 'CLOUDTERM_AGENT_PUBLIC_KEY_FILE',
  CLOUDTERM_ATTACH_PUBLIC_KEY: 'CLOUDTERM_AGENT_PUBLIC_KEY',
  CLOUDTERM_RING_BYTES: 'CLOUDTERM_AGENT_RING_BYTES',
  CLOUDTERM_RECORD: 'CLOUDTERM_AGENT_RECORD',
  CLOUDTERM_CWD: 'CLOUDTERM_AGENT_CWD',
  CLOUDTERM_RESUME_WINDOW: 'CLOUDTERM_AGENT_RESUME_WINDOW',
  CLOUDTERM_MAX_ATTACHMENTS: 'CLOUDTERM_AGENT_MAX_ATTACHMENTS',
};

/**
 * The agent's fixed limits: not options (nobody has needed to tune them), but named here with the
 * options' defaults rather than written where they are used.
 */
export const AGENT_LIMITS = {
  /** The largest WebSocket message a client may send (input is chunked far below it). */
  maxMessageBytes: 1024 * 1024,
  /** How long a client has to send its attach message after the hello. */
  attachTimeoutMs: 10_000,
  /** How long attachments get to receive the exit status before the agent closes them. */
  drainTimeoutMs: 5_000,
  /** On SIGTERM: how long the program has between SIGHUP and SIGKILL. */
  stopGraceMs: 5_000,
  /** A request's headers, and the whole request, on the agent's HTTP surface (slowloris). */
  headersTimeoutMs: 10_000,
  requestTimeoutMs: 30_000,
} as const;

/**
 * How to start an agent, in the terms of its options: what the local backend (and the operator's
 * pod) decide. `agentArgs` turns it into the argv; `loadAgentConfig` reads that argv back.
 */
export type AgentLaunch = {
  readonly [K in Exclude<keyof typeof agentOptionSpecs, 'listen' | 'sessionId'>]?: OptionValues<typeof agentOptionSpecs>[K];
} & {
  readonly sessionId: string;
  readonly listen: ListenAddress;
  /** What the terminal runs; absent: the login shell. */
  readonly command?: readonly string[] | null;
};

/** The arguments after `cloudterm agent` that start an agent as `launch` says: the one launch contract. */
export function agentArgs(launch: AgentLaunch): string[] {
  const args: string[] = [];
  for (const [key, spec] of Object.entries(agentOptionSpecs)) {
    const value = key === 'listen' ? formatListenAddress(launch.listen) : launch[key as keyof AgentLaunch];
    if (value !== undefined && value !== null) args.push(`--${spec.flag}`, String(value));
  }
  if (launch.command && launch.command.length > 0) args.push('--', ...launch.command);
  return args;
}

export interface AgentConfig {
  readonly sessionId: string;
  readonly listen: ListenAddress;
  readonly publicKeyPem: string;
  readonly command: string;
  readonly args: readonly string[];
  readonly cwd: string;
  readonly env: Record<string, string>;
  readonly cols: number;
  readonly rows: number;
  readonly ringBytes: number;
  readonly recordPath: string | null;
  readonly maxAttachments: number;
  readonly resumeWindowMs: number;
}

export const AGENT_USAGE = `${usage('agent', agentOptionSpecs)}\n  -- COMMAND [ARGS...]        what to run (default: the login shell)`;

/** The environment the command sees: the agent's, less CloudTerm's own settings, plus a terminal. */
function childEnvironment(env: Readonly<Record<string, string | undefined>>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(env)) {
    if (value !== undefined && !name.startsWith('CLOUDTERM_')) out[name] = value;
  }
  out.TERM = 'xterm-256color';
  out.COLORTERM = 'truecolor';
  return out;
}

export function loadAgentConfig(argv: readonly string[], env: Readonly<Record<string, string | undefined>>): AgentConfig {
  const problems: string[] = [];
  const { values, rest } = parseOptions(agentOptionSpecs, argv, env, problems);
  checkRenamedVariables(RENAMED_AGENT_VARIABLES, env, problems);

  const listen = parseListenAddress(values.listen, '127.0.0.1');
  if (typeof listen === 'string') problems.push(`--listen: ${listen}`);
  if (!values.sessionId) problems.push(`--session-id (or ${agentOptionSpecs.sessionId.env}) is required`);

  let publicKeyPem = values.publicKey ?? '';
  if (values.publicKeyFile) {
    try {
      publicKeyPem = readFileSync(values.publicKeyFile, 'utf8');
    } catch (error) {
      problems.push(`--public-key-file: cannot read ${values.publicKeyFile}: ${(error as Error).message}`);
    }
  }
  if (!publicKeyPem && problems.every((p) => !p.startsWith('--public-key-file'))) {
    problems.push(`the gateway's public key is required: --public-key-file or ${agentOptionSpecs.publicKey.env}`);
  }

  const user = userInfo();
  const shell = env.SHELL || user.shell || '/bin/sh';
  const [command, ...args] = rest.length > 0 ? rest : [shell, '-l'];
  const notRunnable = programProblem(command!, env.PATH);
  if (notRunnable) problems.push(`the program ${command}: ${notRunnable}`);
  // A home that does not exist (common for service users in images) starts in /, as login(1)
  // does; a --cwd that does not is a mistake to report.
  let cwd = values.cwd ?? user.homedir;
  const cwdProblem = directoryProblem(cwd);
  if (cwdProblem && values.cwd !== undefined) problems.push(`--cwd ${cwd}: ${cwdProblem}`);
  else if (cwdProblem) cwd = '/';
  const readerProblem = loadPtyReader();
  if (readerProblem) problems.push(readerProblem);

  if (problems.length > 0) throw new ConfigError(problems);
  return {
    sessionId: values.sessionId!,
    listen: listen as ListenAddress,
    publicKeyPem,
    command: command!,
    args,
    cwd,
    env: childEnvironment(env),
    cols: values.cols,
    rows: values.rows,
    ringBytes: values.ringBytes,
    recordPath: values.record ?? null,
    maxAttachments: values.maxAttachments,
    resumeWindowMs: values.resumeWindow * 1000,
  };
}
