// A TCP proxy in front of the API server that a test can cut: every open connection (watches
// included) is destroyed at once, and new ones are refused while it is down, as a network
// partition or an API server restart would. TLS passes through untouched (the server's
// certificate is valid for 127.0.0.1), so the client verifies the real server.
import { tcpProxy } from './tcp-proxy.js';

export interface CuttableProxy {
  readonly url: string;
  /** Destroys every connection; refuses new ones for `downMs` (Infinity: until restore()). */
  cut(downMs: number): void;
  /** Accepts connections again at once. */
  restore(): void;
  /** Connections cut so far. */
  readonly cutConnections: number;
  close(): Promise<void>;
}

export async function cuttableProxy(target: URL): Promise<CuttableProxy> {
  let downUntil = 0;
  let cutConnections = 0;
  const proxy = await tcpProxy(target, (client, upstream) => client.pipe(upstream).pipe(client), () => Date.now() >= downUntil);
  return {
    url: `https://127.0.0.1:${proxy.port}`,
    cut(downMs) {
      downUntil = Date.now() + downMs;
      cutConnections += proxy.sockets.size / 2;
      for (const socket of proxy.sockets) socket.destroy();
    },
    restore() {
      downUntil = 0;
    },
    get cutConnections() {
      return cutConnections;
    },
    close: () => proxy.close(),
  };
}
