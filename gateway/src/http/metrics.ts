// The gateway's Prometheus metrics, on a registry of its own (tests build many gateways in one
// process). Attachment figures are read from the proxy when scraped: the splice does no metrics
// work, and a terminal open for hours shows its bytes while it is open.
import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';

/** What the attach route counts anyway (AttachHandler implements it). */
export interface ProxyCounters {
  readonly attachments: number;
  /** Bytes spliced so far, by live and ended attachments. */
  readonly bytesUp: number;
  readonly bytesDown: number;
}

export interface GatewayMetrics {
  readonly registry: Registry;
  readonly sessionsCreated: Counter;
  readonly logins: Counter<'result'>;
  readonly proxyErrors: Counter<'reason'>;
  readonly reaped: Counter;
  /** Where the attachment figures are read from at scrape time. */
  observeProxy(source: ProxyCounters): void;
}

export function createGatewayMetrics(withProcessMetrics: boolean): GatewayMetrics {
  const registry = new Registry();
  if (withProcessMetrics) collectDefaultMetrics({ register: registry });
  const registers = [registry];
  let proxy: ProxyCounters | null = null;
  new Gauge({
    name: 'cloudterm_gateway_attachments',
    help: 'WebSocket attachments spliced now',
    registers,
    collect() {
      this.set(proxy?.attachments ?? 0);
    },
  });
  new Counter({
    name: 'cloudterm_gateway_proxied_bytes_total',
    help: 'Bytes spliced between browsers and agents',
    labelNames: ['direction'],
    registers,
    collect() {
      this.reset();
      this.inc({ direction: 'up' }, proxy?.bytesUp ?? 0);
      this.inc({ direction: 'down' }, proxy?.bytesDown ?? 0);
    },
  });
  return {
    registry,
    sessionsCreated: new Counter({ name: 'cloudterm_gateway_sessions_created_total', help: 'Sessions created by this replica', registers }),
    logins: new Counter({ name: 'cloudterm_gateway_logins_total', help: 'Login attempts by result', labelNames: ['result'], registers }),
    proxyErrors: new Counter({
      name: 'cloudterm_gateway_proxy_errors_total',
      help: 'Attachments refused or cut, by reason',
      labelNames: ['reason'],
      registers,
    }),
    reaped: new Counter({ name: 'cloudterm_gateway_reaped_sessions_total', help: 'Expired sessions this replica ended', registers }),
    observeProxy: (source) => {
      proxy = source;
    },
  };
}
