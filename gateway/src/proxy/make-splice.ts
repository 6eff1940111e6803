// Chooses the core that splices an attachment: the native one wherever both sockets have a
// descriptor of their own, the JavaScript one otherwise (HTTPS served by the gateway itself) or
// when the gateway runs with --proxy-core js.
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { NativeSplice, nativeSpliceable } from './native-splice.js';
import { Splice } from './splice.js';
import type { SpliceEndHandler, Spliced } from './spliced.js';

export type ProxyCore = 'native' | 'js';

export function makeSplice(core: ProxyCore, browser: Duplex, agent: Socket, onEnd: SpliceEndHandler): Spliced {
  // Socket options live on the socket, so a native splice's copies of the descriptors keep them.
  (browser as Socket).setNoDelay?.(true);
  (browser as Socket).setKeepAlive?.(true, 30_000);
  agent.setKeepAlive(true, 30_000);
  if (core === 'native' && nativeSpliceable(browser, agent)) return new NativeSplice(browser, agent, onEnd);
  return new Splice(browser, agent, onEnd);
}
