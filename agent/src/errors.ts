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
  not_found: { status: 404, message: 'not found' },
  session_ended: { status: 404, message: 'the session has ended' },
  method_not_allowed: { status: 405, message: 'GET only' },
  too_many_attachments: { status: 503, message: 'the agent holds as many attachments as it may' },
} as const satisfies Record<string, { status: number; message: string }> & Record<AttachTokenErrorCode, unknown>;

export type AgentErrorCode = keyof typeof AgentErrorCodes;

/** The status and JSON body of one refusal; `message` says what went wrong in this case. */
export function agentError(code: AgentErrorCode, message: string = AgentErrorCodes[code].message): { status: number; body: { error: { code: AgentErrorCode; message: string } } } {
  return { status: AgentErrorCodes[code].status, body: { error: { code, message } } };
}
