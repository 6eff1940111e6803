// When a running session ends if nothing else happens: shared by the operator (which acts on it
// and writes status.expiresAt) and the gateway (which shows it), so that both say the same time.
import { parseDuration } from './duration.js';
import type { TerminalSessionSpec } from './terminal-session.js';

export type ExpiryReason = 'IdleTimeout' | 'MaxLifetime';

export interface Expiry {
  /** Milliseconds since the epoch. */
  at: number;
  reason: ExpiryReason;
}

/**
 * The earlier of last activity + idleTimeout and start + maxLifetime (the hard cap wins a tie).
 * Times are milliseconds since the epoch; without any activity yet, the start counts as activity.
 */
export function expiryOf(
  spec: Pick<TerminalSessionSpec, 'idleTimeout' | 'maxLifetime'>,
  startedAt: number,
  lastActivityAt: number = startedAt,
): Expiry {
  const idle = Math.max(startedAt, lastActivityAt) + parseDuration(spec.idleTimeout);
  const hard = startedAt + parseDuration(spec.maxLifetime);
  return hard <= idle ? { at: hard, reason: 'MaxLifetime' } : { at: idle, reason: 'IdleTimeout' };
}
