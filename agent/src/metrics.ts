// The agent's Prometheus metrics, on a registry of its own so that tests can make many agents in
// one process without names colliding. Byte and attachment figures are read from the session when
// scraped, so the output path does no metrics work at all.
import { MetricsRegistry, type Counter } from '../../core/src/metrics/registry.js';
import { registerProcessMetrics } from '../../core/src/metrics/process-metrics.js';

/** What the session counts anyway (PtySession implements it). */
export interface SessionCounters {
  readonly outputBytes: number;
  readonly inputBytes: number;
  readonly replays: number;
  readonly attachmentCount: number;
}

export interface AgentMetrics {
  readonly registry: MetricsRegistry;
  readonly refusedTokens: Counter<'reason'>;
}

export function createAgentMetrics(session: SessionCounters, withProcessMetrics: boolean): AgentMetrics {
  const registry = new MetricsRegistry();
  if (withProcessMetrics) registerProcessMetrics(registry);
  registry.derived('cloudterm_agent_input_bytes_total', 'Bytes typed into the PTY', 'counter', () => session.inputBytes);
  registry.derived('cloudterm_agent_output_bytes_total', 'Bytes the PTY produced', 'counter', () => session.outputBytes);
  registry.derived(
    'cloudterm_agent_replays_total',
    'Attachments that resumed from an earlier offset (replayed from the ring)',
    'counter',
    () => session.replays,
  );
  registry.derived('cloudterm_agent_attachments', 'Clients attached now', 'gauge', () => session.attachmentCount);
  return {
    registry,
    refusedTokens: registry.counter('cloudterm_agent_refused_tokens_total', 'Upgrade requests refused for their attach token, by reason', ['reason']),
  };
}
