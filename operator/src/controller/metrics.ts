// The operator's Prometheus metrics. Latency is a histogram written as its three families
// (`_bucket` with `le`, `_sum`, `_count`), which histogram_quantile() reads; the registry has no
// histogram type of its own, and the operator is the one part that needs it.
import { MetricsRegistry, registerProcessMetrics, type Counter } from '../../../core/src/index.js';
import { PHASES, type TerminalSession } from '../api/index.js';

export type ReconcileResult = 'success' | 'requeue' | 'error';
const BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

export interface OperatorMetrics {
  readonly registry: MetricsRegistry;
  readonly reconciles: Counter<'result'>;
  readonly errors: Counter<'kind'>;
  observeLatency(seconds: number): void;
}

export interface MetricSources {
  readonly queueDepth: () => number;
  readonly sessions: () => readonly TerminalSession[];
  readonly isLeader: () => boolean;
  readonly eventsDropped: () => number;
}

export function createOperatorMetrics(sources: MetricSources): OperatorMetrics {
  const registry = new MetricsRegistry();
  registerProcessMetrics(registry);
  const reconciles = registry.counter('cloudterm_operator_reconciles_total', 'Reconciles by result (success, requeue: come back later, error: retried with backoff)', ['result']);
  const errors = registry.counter('cloudterm_operator_errors_total', 'Errors by kind (reconcile, watch, lease)', ['kind']);
  const counts = new Array<number>(BUCKETS.length).fill(0);
  let sum = 0;
  let count = 0;
  registry.derived('cloudterm_operator_reconcile_duration_seconds_bucket', 'Reconcile latency histogram buckets', 'counter', () => [
    ...BUCKETS.map((le, i) => ({ labels: { le: String(le) }, value: counts[i]! })),
    { labels: { le: '+Inf' }, value: count },
  ]);
  registry.derived('cloudterm_operator_reconcile_duration_seconds_sum', 'Total seconds spent reconciling', 'counter', () => sum);
  registry.derived('cloudterm_operator_reconcile_duration_seconds_count', 'Reconciles timed', 'counter', () => count);
  registry.derived('cloudterm_operator_queue_depth', 'Sessions waiting in the work queue', 'gauge', sources.queueDepth);
  registry.derived('cloudterm_operator_sessions', 'TerminalSessions by phase (as the cache sees them)', 'gauge', () => {
    const byPhase = new Map<string, number>(PHASES.map((phase) => [phase, 0]));
    for (const session of sources.sessions()) {
      const phase = session.status?.phase ?? 'Pending';
      byPhase.set(phase, (byPhase.get(phase) ?? 0) + 1);
    }
    return [...byPhase].map(([phase, value]) => ({ labels: { phase }, value }));
  });
  registry.derived('cloudterm_operator_events_dropped_total', 'Normal Events not written because too many were waiting (a burst of sessions)', 'counter', sources.eventsDropped);
  registry.derived('cloudterm_operator_leader', '1 while this replica holds the Lease', 'gauge', () => (sources.isLeader() ? 1 : 0));
  return {
    registry,
    reconciles,
    errors,
    observeLatency(seconds) {
      sum += seconds;
      count += 1;
      BUCKETS.forEach((le, i) => {
        if (seconds <= le) counts[i]! += 1;
      });
    },
  };
}
