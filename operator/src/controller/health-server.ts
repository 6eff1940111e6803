// The operator's own HTTP listener: /healthz (the process and its Lease loop are alive), /readyz
// (the caches are synced, so a reconcile would read the world), and /metrics for Prometheus.
import { METRICS_CONTENT_TYPE, sendJson, startPlainServer, type ListenAddress, type PlainServer } from '../../../core/src/index.js';

export interface HealthSources {
  readonly healthy: () => boolean;
  readonly ready: () => boolean;
  readonly metrics: () => string;
}

export async function startHealthServer(listen: ListenAddress, sources: HealthSources): Promise<PlainServer> {
  return startPlainServer(listen, (req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET') return sendJson(res, 405, { error: { code: 'method_not_allowed', message: 'GET only' } });
    if (path === '/healthz') return sendJson(res, sources.healthy() ? 200 : 503, { ok: sources.healthy() });
    if (path === '/readyz') return sendJson(res, sources.ready() ? 200 : 503, { ok: sources.ready() });
    if (path === '/metrics') {
      res.writeHead(200, { 'content-type': METRICS_CONTENT_TYPE });
      res.end(sources.metrics());
      return;
    }
    sendJson(res, 404, { error: { code: 'not_found', message: `no route ${path}: /healthz, /readyz and /metrics` } });
  });
}
