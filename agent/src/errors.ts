// The agent's error table: every refusal a client of the agent can see (HTTP, before any
// WebSocket exists), with its status. docs/protocol.md lists every code (a test checks it); the
// WebSocket close codes are core's (core/src/protocol/close-codes.ts).
import { HTTP_PARSE_ERRORS } from '../../core/src/net/raw-http.js';
import type { AttachTokenError } from '../../core/src/keys/attach-token.js';

type AttachTokenErrorCode = AttachTokenError['code'];

export const AgentErrorCodes = {
  ...HTTP_PARSE_ERRORS,
  token_missing: { status: 401, message: 'an attach token is required (Authorization: Bearer)' },
  token_invalid: { status: 401, message: 'the attach token is not valid' },
  token_expired: { status: 401, message: 'the attach token has expired' },
  token_wrong_session: { status: 401, message: 'the attach token is for another session' },
  token_reused: { status: 401, message: 'the attach token was already used' },
  bad_session_id: { status: 400, message: 'a session id is 1 to 64 letters, digits, - or _' },
  session_header_missing: { status: 400, message: 'a terminal host needs the CloudTerm-Session header naming the terminal' },
  not_found: { status: 404, message: 'not found' },
  session_ended: { status: 404, message: 'the session has ended' },
  method_not_allowed: { status: 405, message: 'GET only' },
  terminal_exists: { status: 409, message: 'this host already holds a terminal of that session id' },
  terminal_failed: { status: 500, message: 'the terminal could not start' },
  too_many_attachments: { status: 503, message: 'the agent holds as many attachments as it may' },
  too_many_terminals: { status: 503, message: 'the host holds as many terminals as it may' },
  host_stopping: { status: 503, message: 'the host is stopping' },
} as const satisfies Record<string, { status: number; message: string }> & Record<AttachTokenErrorCode, unknown>;

export type AgentErrorCode = keyof typeof AgentErrorCodes;

/** The status and JSON body of one refusal; `message` says what went wrong in this case. */
export function agentError(code: AgentErrorCode, message: string = AgentErrorCodes[code].message): { status: number; body: { error: { code: AgentErrorCode; message: string } } } {
  return { status: AgentErrorCodes[code].status, body: { error: { code, message } } };
}
