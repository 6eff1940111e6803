// The part every test proxy shares: a listener on 127.0.0.1 that dials the target for each
// connection, keeps track of both ends (so that a test can cut them or close it all), and ends
// one end when the other goes. What flows between them is the caller's (`wire`).
import { createServer, connect, type Socket } from 'node:net';
import { once } from 'node:events';

export interface TcpProxy {
  readonly port: number;
  /** Both ends of every open connection. */
  readonly sockets: ReadonlySet<Socket>;
  /** Destroys every connection, then stops listening. */
  close(): Promise<void>;
}

/** `accept` refuses a connection (destroyed at once) when it returns false. */
export async function tcpProxy(target: URL, wire: (client: Socket, upstream: Socket) => void, accept: () => boolean = () => true): Promise<TcpProxy> {
  const sockets = new Set<Socket>();
  const server = createServer((client) => {
    if (!accept()) return client.destroy();
    const upstream = connect(Number(target.port), target.hostname);
    for (const socket of [client, upstream]) {
      sockets.add(socket);
      socket.on('close', () => sockets.delete(socket));
      socket.on('error', () => socket.destroy());
    }
    wire(client, upstream);
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    port: (server.address() as { port: number }).port,
    sockets,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}
