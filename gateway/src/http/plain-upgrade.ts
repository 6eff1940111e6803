// A request asking to upgrade to anything but WebSocket (`Upgrade: h2c`, which `curl --http2`
// sends on plain HTTP) is an ordinary request whose Upgrade header is ignored, as RFC 9110 lets a
// server do. Node hands every request carrying `Connection: upgrade` to the server's 'upgrade'
// listener, its socket already out of the HTTP parser; so it is answered here, through the
// server's own request handler (the page, then fastify), once, and the connection then closes.
import { IncomingMessage, ServerResponse, type Server } from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { endWithJsonError } from '../../../core/src/net/raw-http.js';
import { HttpError } from '../errors.js';

export function isWebSocketUpgrade(req: IncomingMessage): boolean {
  return (req.headers.upgrade ?? '').trim().toLowerCase() === 'websocket';
}

function destroyOnError(this: Duplex): void {
  this.destroy();
}

/**
 * Answers `req` as if it had no Upgrade header. Its body (a Content-Length's worth: `head`, then
 * the socket) is fed to the request as the parser would have fed it; a chunked body is refused, having
 * no parser left to read it. The whole exchange has `timeoutMs`, as any request does.
 */
export function answerAsRequest(server: Server, req: IncomingMessage, socket: Duplex, head: Buffer, timeoutMs: number): void {
  socket.on('error', destroyOnError);
  if (req.headers['transfer-encoding'] !== undefined) {
    const error = new HttpError('bad_request', `send this request without "Upgrade: ${req.headers.upgrade}", or its body with a Content-Length`);
    endWithJsonError(socket, error.status, error.toJSON());
    return;
  }
  // Node's parser ended `req` at its headers (an upgrade's body is not its to read): the request
  // passed on is a fresh one with the same head, whose body is fed from here.
  const request = new IncomingMessage(socket as Socket);
  request.method = req.method;
  request.url = req.url;
  request.httpVersion = req.httpVersion;
  request.httpVersionMajor = req.httpVersionMajor;
  request.httpVersionMinor = req.httpVersionMinor;
  request.rawHeaders = req.rawHeaders;
  request.headers = req.headers;
  const timer = setTimeout(() => socket.destroy(), timeoutMs).unref();
  socket.once('close', () => clearTimeout(timer));
  let wanted = Number(req.headers['content-length'] ?? 0) || 0;
  const ended = (): void => {
    // As the parser marks it: a request ended without being complete counts as aborted, and
    // Node would destroy the socket under the answer.
    request.complete = true;
    request.push(null);
  };
  const feed = (chunk: Buffer): void => {
    const part = chunk.subarray(0, wanted);
    wanted -= part.length;
    if (part.length > 0) request.push(part);
    if (wanted === 0) {
      socket.off('data', feed);
      ended();
    }
  };
  if (wanted === 0) ended();
  else {
    feed(head);
    if (wanted > 0) socket.on('data', feed);
  }
  const res = new ServerResponse(request);
  res.shouldKeepAlive = false;
  res.assignSocket(socket as Socket);
  res.once('finish', () => socket.end());
  server.emit('request', request, res);
}
