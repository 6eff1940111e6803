// HTTP answered without fastify: errors written straight onto a socket, where no response object
// exists (refused WebSocket upgrades, agent and gateway, and requests Node could not parse), and
// JSON on the small plain servers (the agent's, the gateway's metrics listener).
import { STATUS_CODES, type ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';

/**
 * What a request Node's HTTP parser gave up on is answered, by every server of ours: each part's
 * error table includes these (docs/errors.md for the gateway, docs/protocol.md for the agent).
 */
export const HTTP_PARSE_ERRORS = {
  bad_request: { status: 400, message: 'the request is malformed' },
  request_timeout: { status: 408, message: 'the request did not arrive in time' },
  header_too_large: { status: 431, message: 'the request headers are too large' },
} as const satisfies Record<string, { status: number; message: string }>;

export function endWithJsonError(
  socket: Duplex,
  status: number,
  body: { error: { code: string; message: string } },
  headers: Readonly<Record<string, string>> = {},
): void {
  const text = JSON.stringify(body);
  const extra = Object.entries(headers).map(([name, value]) => `${name}: ${value}\r\n`).join('');
  socket.end(
    `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? 'Error'}\r\n` +
      'Content-Type: application/json\r\n' +
      `Content-Length: ${Buffer.byteLength(text)}\r\n` +
      `${extra}Connection: close\r\n\r\n${text}`,
  );
}

/**
 * Answers a request Node's HTTP parser gave up on (the server's 'clientError'): headers over the
 * limit are 431, a request that did not arrive in time 408, anything unparseable 400 — each in the
 * JSON error shape, where Node's own answer has no body. A connection already gone is destroyed.
 */
export function answerClientError(error: NodeJS.ErrnoException, socket: Duplex): void {
  if (!socket.writable || error.code === 'ECONNRESET') {
    socket.destroy();
    return;
  }
  const code = error.code === 'HPE_HEADER_OVERFLOW' ? 'header_too_large' : error.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? 'request_timeout' : 'bad_request';
  const message = code === 'bad_request' ? 'the request could not be parsed' : HTTP_PARSE_ERRORS[code].message;
  endWithJsonError(socket, HTTP_PARSE_ERRORS[code].status, { error: { code, message } });
}

export function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}
