// A TerminalSession as the API server stores it (defaults applied), for the operator's unit tests.
import type { TerminalSession } from '../../../operator/src/api/index.js';

export function session(overrides: Partial<TerminalSession['spec']> = {}, name = 'alice-1'): TerminalSession {
  return {
    apiVersion: 'cloudterm.io/v1alpha1',
    kind: 'TerminalSession',
    metadata: { name, namespace: 'team-a', uid: 'uid-1', generation: 1, creationTimestamp: '2026-01-01T00:00:00Z' },
    spec: { owner: 'alice', image: 'ghcr.io/cloudterm/cloudterm:0.1.0', idleTimeout: '30m', maxLifetime: '8h', record: false, size: { cols: 100, rows: 30 }, keepAfterEnd: false, ttlAfterEnd: '1h', ...overrides },
  };
}
