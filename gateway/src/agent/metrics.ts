// The agent's Prometheus metrics, on a registry of its own so that tests can make many agents in
// one process without names colliding.
import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';

export interface AgentMetrics {
  readonly registry: Registry;
  readonly bytesIn: Counter;
  readonly bytesOut: Counter;
  readonly attachments: Gauge;
  readonly replays: Counter;
  readonly refusedTokens: Counter<'reason'>;
}

export function createAgentMetrics(withProcessMetrics: boolean): AgentMetrics {
  const registry = new Registry();
  if (withProcessMetrics) collectDefaultMetrics({ register: registry });
  return {
    registry,
    bytesIn: new Counter({ name: 'cloudterm_agent_input_bytes_total', help: 'Bytes typed into the PTY', registers: [registry] }),
    bytesOut: new Counter({ name: 'cloudterm_agent_output_bytes_total', help: 'Bytes the PTY produced', registers: [registry] }),
    attachments: new Gauge({ name: 'cloudterm_agent_attachments', help: 'Clients attached now', registers: [registry] }),
    replays: new Counter({
      name: 'cloudterm_agent_replays_total',
      help: 'Attachments that resumed from an earlier offset (replayed from the ring)',
      registers: [registry],
    }),
    refusedTokens: new Counter({
      name: 'cloudterm_agent_refused_tokens_total',
      help: 'Upgrade requests refused for their attach token, by reason',
      labelNames: ['reason'],
      registers: [registry],
    }),
  };
}
