// The gateway's Prometheus metrics, on a registry of its own (tests build many gateways in one
// process). Attachment figures are read from the proxy when scraped: the splice does no metrics
// work, and a terminal open for hours shows its bytes while it is open.
import { MetricsRegistry, type Counter } from '../../../core/src/metrics/registry.js';
import { registerProcessMetrics } from '../../../core/src/metrics/process-metrics.js';

/** What the attach route counts anyway (AttachHandler implements it). */
export interface ProxyCounters {
  readonly attachments: number;
  /** Bytes spliced so far, by live and ended attachments. */
  readonly bytesUp: number;
  readonly bytesDown: number;
}

export interface GatewayMetrics {
  readonly registry: MetricsRegistry;
  readonly sessionsCreated: Counter;
  readonly logins: Counter<'result'>;
  readonly proxyErrors: Counter<'reason'>;
  readonly reaped: Counter;
  readonly stopFailures: Counter;
  /** Where the attachment figures are read from at scrape time. */
  observeProxy(source: ProxyCounters): void;
}

export function createGatewayMetrics(withProcessMetrics: boolean): GatewayMetrics {
  const registry = new MetricsRegistry();
  if (withProcessMetrics) registerProcessMetrics(registry);
  let proxy: ProxyCounters | null = null;
  registry.derived('cloudterm_gateway_attachments', 'WebSocket attachments spliced now', 'gauge', () => proxy?.attachments ?? 0);
  registry.derived('cloudterm_gateway_proxied_bytes_total', 'Bytes spliced between browsers and agents', 'counter', () => [
    { labels: { direction: 'up' }, value: proxy?.bytesUp ?? 0 },
    { labels: { direction: 'down' }, value: proxy?.bytesDown ?? 0 },
  ]);
  return {
    registry,
    sessionsCreated: registry.counter('cloudterm_gateway_sessions_created_total', 'Sessions created by this replica'),
    logins: registry.counter('cloudterm_gateway_logins_total', 'Login attempts by result', ['result']),
    proxyErrors: registry.counter('cloudterm_gateway_proxy_errors_total', 'Attachments refused or cut, by reason', ['reason']),
    reaped: registry.counter('cloudterm_gateway_reaped_sessions_total', 'Expired sessions this replica ended'),
    stopFailures: registry.counter('cloudterm_gateway_session_stop_failures_total', 'Terminals that could not be stopped (their sessions are kept and the stop retried)'),
    observeProxy: (source) => {
      proxy = source;
    },
  };
}
