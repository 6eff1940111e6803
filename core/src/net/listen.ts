// Listening on a ListenAddress and learning where the server really is (the port the system chose
// for port 0): the gateway, its metrics listener and the agent all start their servers this way.
import { once } from 'node:events';
import { rm } from 'node:fs/promises';
import type { Server } from 'node:net';
import { formatListenAddress, type ListenAddress } from './listen-address.js';

export interface BoundAddress {
  /** Where the server listens: the TCP port is the real one, never 0. */
  readonly address: ListenAddress;
  /** The same as `host:port`, `[v6]:port` or `unix:/path`, for logs and URLs. */
  readonly text: string;
}

export interface ListenOptions {
  /**
   * Remove a file already at the unix socket path first. Only for a path that is this server's
   * alone (an agent's socket, named after its session): a server that finds another's socket
   * there must fail instead (EADDRINUSE).
   */
  readonly replaceSocketFile?: boolean;
}

/** Starts `server` listening at `address`; rejects with the system's error (EADDRINUSE, EACCES). */
export async function listen(server: Server, address: ListenAddress, options: ListenOptions = {}): Promise<BoundAddress> {
  if ('path' in address && options.replaceSocketFile) await rm(address.path, { force: true });
  const listening = once(server, 'listening');
  server.listen('path' in address ? { path: address.path } : { host: address.host, port: address.port });
  await listening;
  const bound = server.address();
  const actual: ListenAddress = 'path' in address ? address : { host: address.host, port: typeof bound === 'object' && bound ? bound.port : address.port };
  return { address: actual, text: formatListenAddress(actual) };
}
