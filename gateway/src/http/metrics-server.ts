// /metrics on a listener of its own (`--metrics-listen`): Prometheus scrapes the pod's own address,
// and the public listener — what an ingress exposes — no longer shows the gateway's figures.
import { HttpError } from '../errors.js';
import { METRICS_CONTENT_TYPE } from '../../../core/src/metrics/registry.js';
import { sendJson } from '../../../core/src/net/raw-http.js';
import type { ListenAddress } from '../../../core/src/net/listen-address.js';
import { startPlainServer, type PlainServer } from '../../../core/src/net/plain-server.js';

export async function startMetricsServer(address: ListenAddress, render: () => string): Promise<PlainServer> {
  return startPlainServer(address, (req, res) => {
    if (req.method === 'GET' && (req.url ?? '').split('?')[0] === '/metrics') {
      res.writeHead(200, { 'content-type': METRICS_CONTENT_TYPE });
      res.end(render());
      return;
    }
    sendJson(res, 404, new HttpError('not_found', 'this listener serves GET /metrics only').toJSON());
  });
}
