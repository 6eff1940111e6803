// /metrics on a listener of its own (`--metrics-listen`): Prometheus scrapes the pod's own address,
// and the public listener — what an ingress exposes — no longer shows the gateway's figures.
import { createServer } from 'node:http';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { HttpError } from '../errors.js';
import { METRICS_CONTENT_TYPE } from '../../../core/src/metrics/registry.js';
import { answerClientError, sendJson } from '../../../core/src/net/raw-http.js';
import { formatListenAddress, type ListenAddress } from '../../../core/src/net/listen-address.js';

export interface MetricsServer {
  /** Where it listens, as host:port (the port the system chose for port 0) or unix:path. */
  readonly address: string;
  close(): Promise<void>;
}

export async function startMetricsServer(listen: ListenAddress, render: () => string): Promise<MetricsServer> {
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
  server.listen('path' in listen ? { path: listen.path } : { host: listen.host, port: listen.port });
  await once(server, 'listening');
  const bound = server.address() as AddressInfo | string;
  const address = typeof bound === 'string' || 'path' in listen ? formatListenAddress(listen) : formatListenAddress({ host: listen.host, port: bound.port });
  return {
    address,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
