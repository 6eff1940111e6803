// The one way CloudTerm makes a logger: pino, JSON lines, with what must never be logged redacted
// whatever a log call is given. Each part of a process logs through a child carrying its name
// (`log.child({ part: 'attach' })`), so that one process's lines can be told apart.
import pino, { type DestinationStream, type Logger, type LoggerOptions } from 'pino';

export type { Logger };

/** Credentials, wherever a log call puts them: request headers, and any `password` or `token`. */
export const REDACTED_PATHS: readonly string[] = [
  'req.headers.authorization',
  'req.headers.cookie',
  'res.headers["set-cookie"]',
  '*.password',
  'password',
  '*.token',
  'token',
];

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

export interface CreateLoggerOptions {
  /** The program: cloudterm-gateway, cloudterm-agent, … */
  readonly name: string;
  readonly level?: string;
  /** Fields on every line (an agent's session id). */
  readonly base?: Readonly<Record<string, unknown>>;
  readonly serializers?: LoggerOptions['serializers'];
}

export function createLogger(options: CreateLoggerOptions, destination: DestinationStream | NodeJS.WritableStream): Logger {
  return pino(
    {
      name: options.name,
      level: options.level ?? 'info',
      ...(options.base ? { base: { ...options.base } } : {}),
      redact: { paths: [...REDACTED_PATHS], censor: '[redacted]' },
      ...(options.serializers ? { serializers: options.serializers } : {}),
    },
    destination as DestinationStream,
  );
}
