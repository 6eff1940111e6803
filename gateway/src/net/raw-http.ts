// An HTTP error written straight onto a socket, for the places where no HTTP response object
// exists: refused WebSocket upgrades (agent and gateway) and requests Node could not parse.
import { STATUS_CODES } from 'node:http';
import type { Duplex } from 'node:stream';

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
