// Reads a terminal's activity from its agent's own GET /status: the agent counts input and
// output, so idleness is what the shell saw, whichever gateway replica relayed it.
import { request } from 'node:http';
import type { AgentActivity } from '../desired/session-status.js';

export function fetchAgentStatus(timeoutMs: number): (endpoint: string) => Promise<AgentActivity | null> {
  return (endpoint) =>
    new Promise((resolve) => {
      const req = request(`${endpoint}/status`, { method: 'GET', timeout: timeoutMs, headers: { accept: 'application/json' } }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => {
          if (res.statusCode !== 200) return resolve(null);
          try {
            const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as Partial<AgentActivity>;
            if (typeof body.startedAt !== 'string') return resolve(null);
            resolve({
              startedAt: body.startedAt,
              lastInputAt: body.lastInputAt ?? null,
              lastOutputAt: body.lastOutputAt ?? null,
              attachments: typeof body.attachments === 'number' ? body.attachments : 0,
            });
          } catch {
            resolve(null);
          }
        });
        res.on('error', () => resolve(null));
      });
      req.on('timeout', () => req.destroy());
      req.on('error', () => resolve(null));
      req.end();
    });
}
