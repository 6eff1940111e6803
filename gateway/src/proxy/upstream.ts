// Opens the upstream half of an attachment: connects to the session's agent, sends the browser's
// WebSocket upgrade with an attach token in place of the user's credentials, and reads the answer.
// On 101 the raw socket is handed to the splice; the browser then gets the agent's 101 verbatim,
// so the WebSocket handshake (key, accept, and the extensions: permessage-deflate is negotiated
// by the browser and the agent, its frames pass the splice compressed) is end to end.
import { connect, type Socket } from 'node:net';
import type { IncomingHttpHeaders } from 'node:http';
import type { ListenAddress } from '../../../core/src/net/listen-address.js';

export type UpstreamResult =
  | { readonly ok: true; readonly socket: Socket; readonly responseHead: Buffer; readonly leftover: Buffer }
  | { readonly ok: false; readonly reason: 'timeout' | 'failed' | 'refused'; readonly status: number; readonly detail: string };

export interface UpstreamOptions {
  readonly endpoint: ListenAddress;
  /** Names the terminal to a terminal host (local mode); a one-terminal agent ignores it. */
  readonly sessionId: string;
  readonly attachToken: string;
  readonly browserHeaders: IncomingHttpHeaders;
  /** Pass Sec-WebSocket-Extensions on; without it the agent negotiates none. */
  readonly forwardExtensions: boolean;
  /** Covers connecting and the agent's answer to the upgrade. */
  readonly timeoutMs: number;
}

const MAX_RESPONSE_HEAD = 16 * 1024;
const HEAD_END = Buffer.from('\r\n\r\n');

/** Only the headers the agent needs; cookies and the user's own Authorization never leave. */
function upgradeRequest(headers: IncomingHttpHeaders, token: string, sessionId: string, forwardExtensions: boolean): string {
  const lines = [
    'GET /attach HTTP/1.1',
    'Host: cloudterm-agent',
    'Upgrade: websocket',
    'Connection: Upgrade',
    `Sec-WebSocket-Key: ${headers['sec-websocket-key'] ?? ''}`,
    `Sec-WebSocket-Version: ${headers['sec-websocket-version'] ?? '13'}`,
    `Authorization: Bearer ${token}`,
    `CloudTerm-Session: ${sessionId}`,
  ];
  const protocol = headers['sec-websocket-protocol'];
  if (protocol) lines.push(`Sec-WebSocket-Protocol: ${protocol}`);
  // Node joins repeated extension headers with ", ", which is how RFC 6455 lists offers anyway.
  const extensions = headers['sec-websocket-extensions'];
  if (forwardExtensions && extensions) lines.push(`Sec-WebSocket-Extensions: ${extensions}`);
  return `${lines.join('\r\n')}\r\n\r\n`;
}

export function openUpstream(options: UpstreamOptions): Promise<UpstreamResult> {
  return new Promise((resolve) => {
    const socket = connect('path' in options.endpoint ? { path: options.endpoint.path } : { host: options.endpoint.host, port: options.endpoint.port });
    let received: Buffer = Buffer.alloc(0);
    let settled = false;

    const settle = (result: UpstreamResult) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.removeListener('data', onData);
      socket.removeListener('error', onError);
      socket.removeListener('close', onClose);
      if (!result.ok) socket.destroy();
      resolve(result);
    };
    const timer = setTimeout(
      () => settle({ ok: false, reason: 'timeout', status: 504, detail: `no answer within ${options.timeoutMs} ms` }),
      options.timeoutMs,
    );
    const onError = (error: NodeJS.ErrnoException) =>
      settle({ ok: false, reason: 'failed', status: 502, detail: error.code ?? error.message });
    const onClose = () => settle({ ok: false, reason: 'failed', status: 502, detail: 'the agent closed the connection' });
    const onData = (chunk: Buffer) => {
      received = received.length === 0 ? chunk : Buffer.concat([received, chunk]);
      const end = received.indexOf(HEAD_END);
      if (end === -1) {
        if (received.length > MAX_RESPONSE_HEAD) settle({ ok: false, reason: 'failed', status: 502, detail: 'oversized answer' });
        return;
      }
      const head = received.subarray(0, end + HEAD_END.length);
      const statusLine = head.subarray(0, head.indexOf('\r\n')).toString('latin1');
      const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(statusLine)?.[1] ?? 0);
      if (status === 101) {
        settle({ ok: true, socket, responseHead: head, leftover: received.subarray(head.length) });
        return;
      }
      // The agent refused: keep its JSON error code for the log and the browser.
      const body = received.subarray(head.length).toString('utf8');
      const code = /"code":"([a-z_]+)"/.exec(body)?.[1] ?? `HTTP ${status || 'garbage'}`;
      settle({ ok: false, reason: 'refused', status: status || 502, detail: code });
    };

    socket.setNoDelay(true);
    socket.on('data', onData);
    socket.on('error', onError);
    socket.on('close', onClose);
    socket.once('connect', () => socket.write(upgradeRequest(options.browserHeaders, options.attachToken, options.sessionId, options.forwardExtensions)));
  });
}
