// A TCP proxy in front of Redis that a test can make slow at one chosen moment: once armed, the
// first connection that sends the named command gets no more replies (they are held, not lost)
// until released, as when Redis or the network stalls longer than the client's command timeout.
// Commands before that one are answered normally, so the test picks which step of a request
// meets the stall.
import type { Socket } from 'node:net';
import { tcpProxy } from './tcp-proxy.js';

export interface StallingProxy {
  /** redis://127.0.0.1:<port> */
  readonly url: string;
  /** The next connection to send `command` (e.g. 'hgetall') gets no replies from then on. */
  stallOn(command: string): void;
  /** Whether a connection is stalled now. */
  readonly stalled: boolean;
  /** Sends what was held, and every reply from then on. */
  release(): void;
  close(): Promise<void>;
}

export async function stallingProxy(target: URL): Promise<StallingProxy> {
  let armed: string | null = null;
  let held: { client: Socket; chunks: Buffer[] } | null = null;
  const proxy = await tcpProxy(target, (client, upstream) => {
    client.on('data', (chunk: Buffer) => {
      // RESP sends a command's name as a bulk string of its own: "$7\r\nhgetall\r\n".
      if (armed && !held && chunk.toString('latin1').toLowerCase().includes(`\r\n${armed}\r\n`)) {
        held = { client, chunks: [] };
        armed = null;
      }
      upstream.write(chunk);
    });
    upstream.on('data', (chunk: Buffer) => {
      if (held?.client === client) held.chunks.push(chunk);
      else client.write(chunk);
    });
  });
  return {
    url: `redis://127.0.0.1:${proxy.port}`,
    stallOn(command) {
      armed = command.toLowerCase();
    },
    get stalled() {
      return held !== null;
    },
    release() {
      const was = held;
      held = null;
      if (was) for (const chunk of was.chunks) was.client.write(chunk);
    },
    close: () => proxy.close(),
  };
}
