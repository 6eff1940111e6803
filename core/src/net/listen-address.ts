/**
 * The longest unix socket path Linux takes (`sun_path` holds 108 bytes with the terminating NUL).
 * libuv cuts longer paths short without a word, so that two long paths can become one file.
 */
export const MAX_UNIX_SOCKET_PATH_BYTES = 107;

/** Where a server listens: a TCP host and port, or a unix socket path. */
export type ListenAddress = { readonly host: string; readonly port: number } | { readonly path: string };

/**
 * Parses `8080`, `127.0.0.1:8080`, `[::1]:8080` or `unix:/run/agent.sock`. Returns an error
 * message instead of throwing so that config can report every problem at once.
 */
export function parseListenAddress(text: string, defaultHost: string): ListenAddress | string {
  if (text.startsWith('unix:')) {
    const path = text.slice('unix:'.length);
    if (path.length === 0) return 'a unix socket address needs a path (unix:/path/to.sock)';
    const bytes = Buffer.byteLength(path);
    if (bytes > MAX_UNIX_SOCKET_PATH_BYTES) return `the unix socket path is ${bytes} bytes long; at most ${MAX_UNIX_SOCKET_PATH_BYTES} work`;
    return { path };
  }
  const match = /^(?:\[([^\]]+)\]:|([^:]+):)?(\d{1,5})$/.exec(text);
  const port = match ? Number(match[3]) : NaN;
  if (!match || port > 65535) return `"${text}" is not a port, host:port or unix:/path`;
  return { host: match[1] ?? match[2] ?? defaultHost, port };
}

export function formatListenAddress(address: ListenAddress): string {
  if ('path' in address) return `unix:${address.path}`;
  return address.host.includes(':') ? `[${address.host}]:${address.port}` : `${address.host}:${address.port}`;
}
