// /metrics on a listener of its own (`--metrics-listen`): Prometheus scrapes the pod's own address,
// and the public listener — what an ingress exposes — no longer shows the gateway's figures.
import { createServer } from 'node:http';
import { HttpError } from '../errors.js';
import { METRICS_CONTENT_TYPE } from '../../../core/src/metrics/registry.js';
import { answerClientError, sendJson } from '../../../core/src/net/raw-http.js';
import type { ListenAddress } from '../../../core/src/net/listen-address.js';
import { listen } from '../../../core/src/net/listen.js';

export interface MetricsServer {
  /** Where it listens, as host:port (the port the system chose for port 0) or unix:path. */
  readonly address: string;
  close(): Promise<void>;
}

export async function startMetricsServer(address: ListenAddress, render: () => string): Promise<MetricsServer> {
  const server = createServer((req, res) => {
    if (req.method === 'GET' && (req.url ?? '').split('?')[0] === '/metrics') {
      res.writeHead(200, { 'content-type': METRICS_CONTENT_TYPE });
      res.end(render());
      return;
    }
    sendJson(res, 404, new HttpError('not_found', 'this listener serves GET /metrics only').toJSON());
  });
  server.on('clientError', answerClientError);
  server.headersTimeout = 10_000;
  server.requestTimeout = 10_000;
  const bound = await listen(server, address);
  return {
    address: bound.text,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
