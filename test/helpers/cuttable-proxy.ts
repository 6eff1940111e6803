// A TCP proxy in front of the API server that a test can cut: every open connection (watches
// included) is destroyed at once, and new ones are refused while it is down, as a network
// partition or an API server restart would. TLS passes through untouched (the server's
// certificate is valid for 127.0.0.1), so the client verifies the real server.
import { createServer, connect, type Socket } from 'node:net';
import { once } from 'node:events';

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
  const sockets = new Set<Socket>();
  let downUntil = 0;
  let cutConnections = 0;
  const server = createServer((client) => {
    if (Date.now() < downUntil) return client.destroy();
    const upstream = connect(Number(target.port), target.hostname);
    for (const socket of [client, upstream]) {
      sockets.add(socket);
      socket.on('close', () => sockets.delete(socket));
      socket.on('error', () => socket.destroy());
    }
    client.pipe(upstream).pipe(client);
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as { port: number };
  return {
    url: `https://127.0.0.1:${port}`,
    cut(downMs) {
      downUntil = Date.now() + downMs;
      cutConnections += sockets.size / 2;
      for (const socket of sockets) socket.destroy();
    },
    restore() {
      downUntil = 0;
    },
    get cutConnections() {
      return cutConnections;
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}
