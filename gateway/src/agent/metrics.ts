// The agent's Prometheus metrics, on a registry of its own so that tests can make many agents in
// one process without names colliding. Byte and attachment figures are read from the session when
// scraped, so the output path does no metrics work at all.
import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';

/** What the session counts anyway (PtySession implements it). */
export interface SessionCounters {
  readonly outputBytes: number;
  readonly inputBytes: number;
  readonly replays: number;
  readonly attachmentCount: number;
}

export interface AgentMetrics {
  readonly registry: Registry;
  readonly refusedTokens: Counter<'reason'>;
}

/** A counter whose value is read from `read()` at scrape time. */
function derivedCounter(registry: Registry, name: string, help: string, read: () => number): void {
  new Counter({
    name,
    help,
    registers: [registry],
    collect() {
      this.reset();
      this.inc(read());
    },
  });
}

export function createAgentMetrics(session: SessionCounters, withProcessMetrics: boolean): AgentMetrics {
  const registry = new Registry();
  if (withProcessMetrics) collectDefaultMetrics({ register: registry });
  derivedCounter(registry, 'cloudterm_agent_input_bytes_total', 'Bytes typed into the PTY', () => session.inputBytes);
  derivedCounter(registry, 'cloudterm_agent_output_bytes_total', 'Bytes the PTY produced', () => session.outputBytes);
  derivedCounter(
    registry,
    'cloudterm_agent_replays_total',
    'Attachments that resumed from an earlier offset (replayed from the ring)',
    () => session.replays,
  );
  new Gauge({
    name: 'cloudterm_agent_attachments',
    help: 'Clients attached now',
    registers: [registry],
    collect() {
      this.set(session.attachmentCount);
    },
  });
  return {
    registry,
    refusedTokens: new Counter({
      name: 'cloudterm_agent_refused_tokens_total',
      help: 'Upgrade requests refused for their attach token, by reason',
      labelNames: ['reason'],
      registers: [registry],
    }),
  };
}
