// The file descriptor under a socket, for the C code that writes to it directly (the gateway's
// splice, the agent's output lanes). Node keeps it on the socket's handle and has no public way to
// give it.
import type { Duplex } from 'node:stream';
import { TLSSocket } from 'node:tls';

type HandleOwner = { _handle?: { fd?: number } | null };

/** The socket's own descriptor; null under TLS (its descriptor carries ciphertext) or when it has none. */
export function socketDescriptor(socket: Duplex): number | null {
  if (socket instanceof TLSSocket) return null;
  const fd = (socket as Duplex & HandleOwner)._handle?.fd;
  return typeof fd === 'number' && fd >= 0 ? fd : null;
}
