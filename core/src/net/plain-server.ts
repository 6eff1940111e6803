// The small HTTP listeners beside a part's main one (the gateway's /metrics, the operator's health
// and metrics): JSON errors for requests Node cannot parse, short timeouts, and a close that does
// not wait for keep-alive connections (a scraper holds one open).
import { createServer, type RequestListener } from 'node:http';
import { answerClientError } from './raw-http.js';
import type { ListenAddress } from './listen-address.js';
import { listen } from './listen.js';

export interface PlainServer {
  /** Where it listens, as host:port (the port the system chose for port 0) or unix:path. */
  readonly address: string;
  close(): Promise<void>;
}

/** A request's head and body must arrive within this: these listeners answer small GETs only. */
const REQUEST_TIMEOUT_MS = 10_000;

export async function startPlainServer(address: ListenAddress, handler: RequestListener): Promise<PlainServer> {
  const server = createServer(handler);
  server.on('clientError', answerClientError);
  server.headersTimeout = REQUEST_TIMEOUT_MS;
  server.requestTimeout = REQUEST_TIMEOUT_MS;
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
