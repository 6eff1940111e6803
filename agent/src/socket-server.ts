// The WebSocket server every served terminal is attached through (the one-terminal agent and the
// terminal host alike): ws with the message limit and permessage-deflate as docs/protocol.md says.
import type { IncomingMessage } from 'node:http';
import { createRequire } from 'node:module';
import { WebSocketServer } from 'ws';
import { AGENT_DEFLATE } from '../../core/src/protocol/compression.js';

const OFFER_HEADER = 'sec-websocket-extensions';

/** ws's parts that decide an offer: exported by ws's CommonJS entry, not declared by @types/ws. */
interface OfferParts {
  readonly extension: { parse(header: string): Record<string, unknown[]> };
  readonly PerMessageDeflate: (new (options: object) => { accept(offers: unknown[]): unknown }) & { readonly extensionName: string };
}
const ws = createRequire(import.meta.url)('ws') as OfferParts;

export function terminalSocketServer(maxMessageBytes: number): WebSocketServer {
  return new WebSocketServer({ noServer: true, maxPayload: maxMessageBytes, perMessageDeflate: AGENT_DEFLATE });
}

/**
 * An offer the agent cannot accept (a malformed header, a parameter RFC 7692 does not define or
 * with a bad value, a server window below the agent's) is declined, as RFC 7692 section 5 asks:
 * the attachment goes on uncompressed. ws itself would refuse the whole upgrade with a 400, which
 * the gateway could only report as a failed agent.
 */
export function declineUnacceptableOffer(req: IncomingMessage): void {
  const header = req.headers[OFFER_HEADER];
  if (header === undefined) return;
  try {
    const offers = ws.extension.parse(header)[ws.PerMessageDeflate.extensionName];
    if (offers) new ws.PerMessageDeflate({ ...AGENT_DEFLATE, isServer: true }).accept(offers);
  } catch {
    delete req.headers[OFFER_HEADER];
  }
}
