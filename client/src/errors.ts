// The terminal client's error table: every way a client command can fail, with the exit status
// it gives. docs/client.md lists each (a test checks it). A command that attaches exits with the
// remote program's status instead when the program ends.

export const ClientErrors = {
  /** A bad flag, a missing argument: the command line is the user's to fix. */
  usage: { exit: 2, message: 'the command line is not valid' },
  /** The user left with the detach key; the session runs on. */
  detached: { exit: 200, message: 'detached: the session runs on' },
  /** Not logged in, a token expired or revoked, or not allowed: log in again (or ask for access). */
  refused: { exit: 201, message: 'refused' },
  /** The session does not exist (any more): deleted, reaped, or its terminal ended without us. */
  gone: { exit: 202, message: 'the session is gone' },
  /** The gateway cannot be reached, or its certificate is not trusted. */
  unreachable: { exit: 203, message: 'the gateway cannot be reached' },
  /** Anything else the gateway answered with an error (a limit, a bad name, Redis down). */
  failed: { exit: 1, message: 'the gateway refused the request' },
} as const satisfies Record<string, { exit: number; message: string }>;

export type ClientErrorKind = keyof typeof ClientErrors;

/** A failure meant for the user: the message says what happened and, where there is one, what to do. */
export class ClientError extends Error {
  override readonly name = 'ClientError';
  readonly exitCode: number;
  constructor(
    readonly kind: ClientErrorKind,
    message: string = ClientErrors[kind].message,
  ) {
    super(message);
    this.exitCode = ClientErrors[kind].exit;
  }
}

/** What an expired or revoked token tells the user, wherever it is found out. */
export function loginAgain(url: string): string {
  return `your login to ${url} has expired or was revoked: run \`cloudterm login ${url}\` again`;
}
