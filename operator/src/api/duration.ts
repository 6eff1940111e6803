// Durations in a TerminalSession's spec are written the way Kubernetes users write them elsewhere
// (Go's time.ParseDuration, `kubectl wait --timeout=30s`), restricted to whole hours, minutes and
// seconds in that order so that one spelling has one meaning and the CRD's pattern can check it.

/** The CRD's pattern for spec durations; also what parseDuration accepts. */
export const DURATION_PATTERN = '^([0-9]+h)?([0-9]+m)?([0-9]+s)?$';
const DURATION_RE = /^(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$/;

export class DurationError extends TypeError {
  constructor(readonly value: unknown) {
    super(`invalid duration ${JSON.stringify(value)}: expected hours, minutes and seconds like "30m", "1h30m" or "90s"`);
    this.name = 'DurationError';
  }
}

/** `1h30m` → 5400000 (milliseconds). Throws DurationError for anything the CRD's pattern refuses. */
export function parseDuration(text: string): number {
  const match = typeof text === 'string' && text !== '' ? DURATION_RE.exec(text) : null;
  if (!match) throw new DurationError(text);
  const [, h = '0', m = '0', s = '0'] = match;
  const ms = ((Number(h) * 60 + Number(m)) * 60 + Number(s)) * 1000;
  if (!Number.isSafeInteger(ms)) throw new DurationError(text);
  return ms;
}

/** 5400000 → `1h30m`; the inverse of parseDuration for whole seconds (0 → `0s`). */
export function formatDuration(ms: number): string {
  if (!Number.isSafeInteger(ms) || ms < 0 || ms % 1000 !== 0) {
    throw new RangeError(`formatDuration takes a whole, non-negative number of seconds in milliseconds, not ${ms}`);
  }
  const total = ms / 1000;
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = total % 60;
  const text = `${h ? `${h}h` : ''}${m ? `${m}m` : ''}${s ? `${s}s` : ''}`;
  return text || '0s';
}
