// `cloudterm sessions` as a table a person reads: aligned columns, expiry as time left.
import type { SessionView } from './gateway-api.js';

const COLUMNS = ['NAME', 'ID', 'TENANT', 'ROLE', 'STATE', 'ATTACHED', 'EXPIRES'] as const;

/** `in 59m`, `in 2h5m`, `expired`: what matters is how long is left, not the instant. */
export function timeLeft(expiresAt: string, now: Date): string {
  const seconds = Math.floor((Date.parse(expiresAt) - now.getTime()) / 1000);
  if (!Number.isFinite(seconds)) return '-';
  if (seconds <= 0) return 'expired';
  const days = Math.floor(seconds / 86400);
  const hours = Math.floor((seconds % 86400) / 3600);
  const minutes = Math.floor((seconds % 3600) / 60);
  if (days > 0) return `in ${days}d${hours}h`;
  if (hours > 0) return `in ${hours}h${minutes}m`;
  return minutes > 0 ? `in ${minutes}m` : `in ${seconds}s`;
}

export function formatSessions(sessions: readonly SessionView[], now: Date): string {
  if (sessions.length === 0) return 'no sessions: `cloudterm new --attach` starts one\n';
  const rows = sessions.map((s) => [s.name, s.id, s.tenant, s.role, s.state, s.attached === null ? '-' : String(s.attached), timeLeft(s.expiresAt, now)]);
  const widths = COLUMNS.map((title, i) => Math.max(title.length, ...rows.map((row) => row[i]!.length)));
  const line = (cells: readonly string[]) => cells.map((cell, i) => (i === cells.length - 1 ? cell : cell.padEnd(widths[i]!))).join('  ');
  return `${[line(COLUMNS), ...rows.map(line)].join('\n')}\n`;
}
