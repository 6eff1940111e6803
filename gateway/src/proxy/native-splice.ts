// The native proxy core (gateway/native/fd-splice.c): the splice of splice.ts done in C on Node's
// event loop, for sockets that have a file descriptor of their own (plain TCP and unix sockets).
// The sockets' descriptors are copied into the C splice and the net.Socket objects are destroyed:
// an attachment then costs one small C struct and this object, not two streams (docs/gateway.md,
// "The proxy core"). HTTPS served by the gateway itself keeps the JavaScript splice.
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { closeFrame } from './frame-boundary.js';
import { loadAddon } from '../../../core/src/native/load-addon.js';
import { socketDescriptor } from '../../../core/src/net/socket-descriptor.js';
import { CloseCode } from '../../../core/src/protocol/close-codes.js';
import { CLOSE_GRACE_MS, type SpliceEnd, type SpliceEndHandler, type Spliced } from './spliced.js';

/** The C side's end codes index this list (enum splice_end in fd-splice.c). */
const SPLICE_ENDS: readonly SpliceEnd[] = ['browser-closed', 'agent-closed', 'agent-failed', 'restart'];

interface FdSpliceAddon {
  configure(dispatch: (splice: NativeSplice, end: number) => void, agentFailedFrame: Buffer): void;
  start(splice: NativeSplice, browserFd: number, agentFd: number, responseHead: Buffer, fromAgent: Buffer, fromBrowser: Buffer): void;
  close(splice: NativeSplice, frame: Buffer): boolean;
  destroy(splice: NativeSplice): void;
  bytes(splice: NativeSplice, out: Float64Array): void;
}

let addon: FdSpliceAddon | null = null;

/** Loads the addon once; null when it loads, else why not (for the configuration's error). */
export function loadNativeSplice(): string | null {
  if (addon) return null;
  const load = loadAddon<FdSpliceAddon>('fd_splice.node');
  if ('problem' in load) return load.problem;
  addon = load.addon;
  addon.configure(dispatch, closeFrame(CloseCode.UpstreamFailed.code, CloseCode.UpstreamFailed.reason));
  return null;
}

function dispatch(splice: NativeSplice, end: number): void {
  splice.ended(SPLICE_ENDS[end] ?? 'restart');
}

/**
 * Whether these two sockets can be spliced in C: both with a descriptor of their own and nothing
 * still queued for writing in Node (it would be lost with the net.Socket).
 */
export function nativeSpliceable(browser: Duplex, agent: Socket): boolean {
  return addon !== null && browser.writableLength === 0 && agent.writableLength === 0 && socketDescriptor(browser) !== null && socketDescriptor(agent) !== null;
}

/** What a socket's stream read from the kernel and nobody took yet. */
function unread(socket: Duplex): Buffer[] {
  const chunks: Buffer[] = [];
  for (let chunk: Buffer | null = socket.read() as Buffer | null; chunk !== null; chunk = socket.read() as Buffer | null) chunks.push(chunk);
  return chunks;
}

const figures = new Float64Array(2);

export class NativeSplice implements Spliced {
  private closing = false;
  private done = false;

  constructor(
    private browser: Duplex | null,
    private agent: Socket | null,
    private readonly onEnd: SpliceEndHandler,
  ) {}

  /**
   * Takes over both sockets: the C splice gets copies of their descriptors and the net.Sockets
   * are destroyed. Throws, with both sockets untouched, when a descriptor cannot be copied.
   */
  start(responseHead: Buffer, fromAgent: Buffer, fromBrowser: Buffer): void {
    const { browser, agent } = this;
    if (!addon || !browser || !agent) throw new Error('the native splice is not loaded, or started twice');
    const agentBytes = Buffer.concat([fromAgent, ...unread(agent)]);
    const browserBytes = Buffer.concat([fromBrowser, ...unread(browser)]);
    addon.start(this, socketDescriptor(browser)!, socketDescriptor(agent)!, responseHead, agentBytes, browserBytes);
    // The C splice holds copies: destroying these closes only Node's descriptors (no FIN is sent).
    this.browser = null;
    this.agent = null;
    browser.destroy();
    agent.destroy();
  }

  get bytesUp(): number {
    addon!.bytes(this, figures);
    return figures[0]!;
  }

  get bytesDown(): number {
    addon!.bytes(this, figures);
    return figures[1]!;
  }

  close(code: number, reason: string): void {
    if (this.closing || this.done) return;
    this.closing = true;
    if (!addon!.close(this, closeFrame(code, reason))) {
      setTimeout(() => {
        if (!this.done) addon!.destroy(this);
      }, CLOSE_GRACE_MS).unref();
    }
  }

  /** @internal Called by the C splice (through dispatch) when it has ended. */
  ended(how: SpliceEnd): void {
    if (this.done) return;
    this.done = true;
    this.onEnd(this, how);
  }
}
