// Talking to a terminal host (`cloudterm agent-host`) over its unix socket: its control routes
// and its event stream (docs/protocol.md, "Terminal hosts").
import { request, type ClientRequest, type IncomingMessage } from 'node:http';
import type { AgentStatus, HostEvent, HostStatus } from '../../../agent/src/index.js';

export interface HostAnswer<T> {
  readonly status: number;
  readonly body: T;
}

/**
 * One request to the host at `socketPath`; null when it could not be reached or did not answer
 * within `timeoutMs` (no socket, a dead or stopped process).
 */
export function hostRequest<T>(socketPath: string, method: string, path: string, timeoutMs: number, body?: unknown): Promise<HostAnswer<T> | null> {
  return new Promise((resolve) => {
    const text = body === undefined ? undefined : JSON.stringify(body);
    const headers: Record<string, string | number> = text === undefined ? {} : { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) };
    const req = request({ socketPath, method, path, headers }, (res) => {
      let data = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (data += chunk));
      res.on('end', () => {
        clearTimeout(timer);
        try {
          resolve({ status: res.statusCode ?? 0, body: JSON.parse(data) as T });
        } catch {
          resolve(null);
        }
      });
      res.on('error', () => resolve(null));
    });
    // The whole exchange, not just idleness: a DELETE may take the program's grace period.
    const timer = setTimeout(() => req.destroy(), timeoutMs);
    req.on('error', () => {
      clearTimeout(timer);
      resolve(null);
    });
    req.end(text);
  });
}

export const hostStatus = (socketPath: string, timeoutMs: number) => hostRequest<HostStatus>(socketPath, 'GET', '/status', timeoutMs);
export const terminalStatus = (socketPath: string, id: string, timeoutMs: number) =>
  hostRequest<AgentStatus>(socketPath, 'GET', `/terminals/${id}`, timeoutMs);

/**
 * Follows the host's event stream: `onEvent` per terminal that ended, `onEnd` once when the
 * stream ends (the host stopped or died). Returns the request, to abort when the pool closes.
 */
export function watchHost(socketPath: string, onEvent: (event: HostEvent) => void, onEnd: () => void): ClientRequest {
  let ended = false;
  const end = () => {
    if (ended) return;
    ended = true;
    onEnd();
  };
  const req = request({ socketPath, path: '/events' }, (res: IncomingMessage) => {
    let pending = '';
    res.setEncoding('utf8');
    res.on('data', (chunk: string) => {
      pending += chunk;
      let newline;
      while ((newline = pending.indexOf('\n')) !== -1) {
        const line = pending.slice(0, newline);
        pending = pending.slice(newline + 1);
        try {
          onEvent(JSON.parse(line) as HostEvent);
        } catch {
          // A line that is not an event: nothing to act on.
        }
      }
    });
    res.on('end', end);
    res.on('close', end);
    res.on('error', end);
  });
  req.on('error', end);
  req.end();
  return req;
}
