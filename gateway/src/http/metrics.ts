// The gateway's Prometheus metrics, on a registry of its own (tests build many gateways in one
// process).
import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';

export interface GatewayMetrics {
  readonly registry: Registry;
  readonly attachments: Gauge;
  readonly sessionsCreated: Counter;
  readonly bytes: Counter<'direction'>;
  readonly logins: Counter<'result'>;
  readonly proxyErrors: Counter<'reason'>;
  readonly reaped: Counter;
}

export function createGatewayMetrics(withProcessMetrics: boolean): GatewayMetrics {
  const registry = new Registry();
  if (withProcessMetrics) collectDefaultMetrics({ register: registry });
  const registers = [registry];
  return {
    registry,
    attachments: new Gauge({ name: 'cloudterm_gateway_attachments', help: 'WebSocket attachments spliced now', registers }),
    sessionsCreated: new Counter({ name: 'cloudterm_gateway_sessions_created_total', help: 'Sessions created by this replica', registers }),
    bytes: new Counter({
      name: 'cloudterm_gateway_proxied_bytes_total',
      help: 'Bytes spliced between browsers and agents (counted when an attachment ends)',
      labelNames: ['direction'],
      registers,
    }),
    logins: new Counter({ name: 'cloudterm_gateway_logins_total', help: 'Login attempts by result', labelNames: ['result'], registers }),
    proxyErrors: new Counter({
      name: 'cloudterm_gateway_proxy_errors_total',
      help: 'Attachments refused or cut, by reason',
      labelNames: ['reason'],
      registers,
    }),
    reaped: new Counter({ name: 'cloudterm_gateway_reaped_sessions_total', help: 'Expired sessions this replica ended', registers }),
  };
}
