// Configuration of `cloudterm agent`, from flags and CLOUDTERM_* environment variables.
import { readFileSync } from 'node:fs';
import { userInfo } from 'node:os';
import { ConfigError, parseOptions, usage, type OptionSpec } from '../../core/src/config/options.js';
import { parseListenAddress, type ListenAddress } from '../../core/src/net/listen-address.js';
import { MAX_COLS, MAX_ROWS } from '../../core/src/protocol/messages.js';
import { directoryProblem, programProblem } from '../../core/src/config/program.js';
import { loadPtyReader } from './pty-output.js';

export const agentOptionSpecs = {
  listen: { flag: 'listen', env: 'CLOUDTERM_AGENT_LISTEN', kind: 'string', help: 'port, host:port or unix:/path (default 127.0.0.1:7681)' },
  sessionId: { flag: 'session-id', env: 'CLOUDTERM_SESSION_ID', kind: 'string', help: 'the session this agent serves (required)' },
  publicKeyFile: { flag: 'public-key-file', env: 'CLOUDTERM_ATTACH_PUBLIC_KEY_FILE', kind: 'string', help: "PEM file of the gateway's public key" },
  publicKey: { flag: 'public-key', env: 'CLOUDTERM_ATTACH_PUBLIC_KEY', kind: 'string', help: "the gateway's public key as PEM text" },
  ringBytes: { flag: 'ring-bytes', env: 'CLOUDTERM_RING_BYTES', kind: 'integer', min: 128 * 1024, max: 1024 ** 3, help: 'output kept for resuming (default 1Mi, at least 128Ki)' },
  record: { flag: 'record', env: 'CLOUDTERM_RECORD', kind: 'string', help: 'write an asciicast v2 recording to this file' },
  cols: { flag: 'cols', kind: 'integer', min: 1, max: MAX_COLS, help: 'initial columns (default 80)' },
  rows: { flag: 'rows', kind: 'integer', min: 1, max: MAX_ROWS, help: 'initial rows (default 24)' },
  cwd: { flag: 'cwd', env: 'CLOUDTERM_CWD', kind: 'string', help: 'working directory of the command (default: home)' },
  resumeWindow: { flag: 'resume-window', env: 'CLOUDTERM_RESUME_WINDOW', kind: 'integer', min: 0, max: 86400, help: 'seconds a detached client\'s position holds the program back so it can resume losslessly (default 60; 0 = never)' },
  maxAttachments: { flag: 'max-attachments', env: 'CLOUDTERM_MAX_ATTACHMENTS', kind: 'integer', min: 1, max: 100_000, help: 'clients attached at once (default 256)' },
} as const satisfies Record<string, OptionSpec>;

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

  const listen = parseListenAddress(values.listen ?? '127.0.0.1:7681', '127.0.0.1');
  if (typeof listen === 'string') problems.push(`--listen: ${listen}`);
  if (!values.sessionId) problems.push('--session-id (or CLOUDTERM_SESSION_ID) is required');

  let publicKeyPem = values.publicKey ?? '';
  if (values.publicKeyFile) {
    try {
      publicKeyPem = readFileSync(values.publicKeyFile, 'utf8');
    } catch (error) {
      problems.push(`--public-key-file: cannot read ${values.publicKeyFile}: ${(error as Error).message}`);
    }
  }
  if (!publicKeyPem && problems.every((p) => !p.startsWith('--public-key-file'))) {
    problems.push("the gateway's public key is required: --public-key-file or CLOUDTERM_ATTACH_PUBLIC_KEY");
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
    cols: values.cols ?? 80,
    rows: values.rows ?? 24,
    ringBytes: values.ringBytes ?? 1024 * 1024,
    recordPath: values.record ?? null,
    maxAttachments: values.maxAttachments ?? 256,
    resumeWindowMs: (values.resumeWindow ?? 60) * 1000,
  };
}
