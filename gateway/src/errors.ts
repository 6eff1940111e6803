// The gateway's error table: every error a client can see, with its HTTP status. Responses are
// `{ error: { code, message } }`; docs/errors.md lists every code (a test checks it).
import { HTTP_PARSE_ERRORS } from '../../core/src/net/raw-http.js';
import { StoreUnavailableError } from './store/types.js';

export const ErrorCodes = {
  ...HTTP_PARSE_ERRORS,
  invalid_json: { status: 400, message: 'the body is not valid JSON' },
  validation_failed: { status: 400, message: 'the request body is not valid' },
  unauthenticated: { status: 401, message: 'log in first' },
  invalid_credentials: { status: 401, message: 'wrong user name or password' },
  token_invalid: { status: 401, message: 'the token is not valid' },
  token_expired: { status: 401, message: 'the token has expired' },
  token_revoked: { status: 401, message: 'the token was revoked (logged out)' },
  forbidden: { status: 403, message: 'you may not do this' },
  origin_forbidden: { status: 403, message: 'the Origin of this request is not allowed' },
  not_found: { status: 404, message: 'not found' },
  session_not_found: { status: 404, message: 'no such session' },
  method_not_allowed: { status: 405, message: 'method not allowed' },
  session_limit: { status: 409, message: 'too many sessions' },
  attachment_limit: { status: 409, message: 'too many attachments' },
  payload_too_large: { status: 413, message: 'the body is too large' },
  unsupported_media_type: { status: 415, message: 'send application/json' },
  host_not_served: { status: 421, message: 'this gateway does not serve that host name' },
  rate_limited: { status: 429, message: 'too many attempts, try again later' },
  internal: { status: 500, message: 'internal error' },
  upstream_failed: { status: 502, message: "the session's agent could not be reached" },
  store_unavailable: { status: 503, message: 'the session store is unavailable, try again shortly' },
  shutting_down: { status: 503, message: 'the gateway is shutting down' },
  gateway_full: { status: 503, message: 'this gateway holds as many attachments as it may: retry shortly' },
  idp_unavailable: { status: 503, message: "the identity provider's keys could not be fetched, try again shortly" },
  upstream_timeout: { status: 504, message: "the session's agent did not answer in time" },
} as const satisfies Record<string, { status: number; message: string }>;

export type ErrorCode = keyof typeof ErrorCodes;

/** An error meant for the client: its code decides the status; the message says what went wrong. */
export class HttpError extends Error {
  override readonly name = 'HttpError';
  readonly status: number;
  constructor(
    readonly code: ErrorCode,
    message: string = ErrorCodes[code].message,
    readonly headers: Readonly<Record<string, string>> = {},
  ) {
    super(message);
    this.status = ErrorCodes[code].status;
  }

  toJSON(): { error: { code: ErrorCode; message: string } } {
    return { error: { code: this.code, message: this.message } };
  }
}

/**
 * What a client is told of a failure: an HttpError as it is, a store that did not answer as 503
 * store_unavailable (a client retries that), and anything else, a bug, as 500 internal
 * (`unexpected`: the caller logs it). The API and the attach route both answer through this.
 */
export function clientError(error: unknown): { readonly error: HttpError; readonly unexpected: boolean } {
  if (error instanceof HttpError) return { error, unexpected: false };
  if (error instanceof StoreUnavailableError) return { error: new HttpError('store_unavailable'), unexpected: false };
  return { error: new HttpError('internal'), unexpected: true };
}
