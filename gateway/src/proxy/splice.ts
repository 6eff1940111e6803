// The zero-copy proxy core: after the handshake, bytes flow between the browser and the agent as
// the Buffers they arrived in — never decoded into frames, never copied — with backpressure in
// both directions. Local mode and cluster mode use this same core.
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { FrameBoundaryTracker, closeFrame } from './frame-boundary.js';
import { CloseCode } from '../../../core/src/protocol/close-codes.js';
import { CLOSE_GRACE_MS, type SpliceEnd, type SpliceEndHandler, type Spliced } from './spliced.js';

// One gateway holds tens of thousands of splices. Their socket listeners are these module-level
// functions, shared by all, which find their splice on the emitting socket: per attachment that
// saves a dozen closures and their contexts (about a kilobyte) over listeners made per splice.
const kSplice = Symbol('cloudterm.splice');
type SplicedSocket = Duplex & { [kSplice]?: Splice };

function onAgentData(this: SplicedSocket, chunk: Buffer): void {
  this[kSplice]?.fromAgent(chunk);
}
function onBrowserData(this: SplicedSocket, chunk: Buffer): void {
  this[kSplice]?.fromBrowser(chunk);
}
/** The other side drained: the socket that was paused for it may read again. */
function resumePeer(this: SplicedSocket): void {
  this[kSplice]?.resumePeerOf(this);
}
function onAgentGone(this: SplicedSocket): void {
  this[kSplice]?.agentGone();
}
function onBrowserGone(this: SplicedSocket): void {
  this[kSplice]?.browserGone();
}

export class Splice implements Spliced {
  /** Bytes browser → agent and agent → browser; read by the activity tracker and metrics. */
  bytesUp = 0;
  bytesDown = 0;
  private readonly agentFrames = new FrameBoundaryTracker();
  private closing: { code: number; reason: string } | null = null;
  private ended = false;

  constructor(
    private readonly browser: Duplex,
    private readonly agent: Socket,
    private readonly onEnd: SpliceEndHandler,
  ) {
    (browser as SplicedSocket)[kSplice] = this;
    (agent as SplicedSocket)[kSplice] = this;

    agent.on('data', onAgentData);
    agent.on('drain', resumePeer);
    agent.on('end', onAgentGone);
    agent.on('close', onAgentGone);
    agent.on('error', onAgentGone);
    browser.on('data', onBrowserData);
    browser.on('drain', resumePeer);
    // Sockets from Node's HTTP server allow half-open connections: a browser that sends FIN
    // without a close frame would otherwise stay attached forever.
    browser.on('end', onBrowserGone);
    browser.on('close', onBrowserGone);
    browser.on('error', onBrowserGone);
  }

  /** @internal Called by the shared listeners above. */
  fromAgent(chunk: Buffer): void {
    if (this.closing) return this.forwardUntilBoundary(chunk);
    this.bytesDown += chunk.length;
    this.agentFrames.feed(chunk);
    if (!this.browser.write(chunk)) this.agent.pause();
  }

  /** @internal */
  fromBrowser(chunk: Buffer): void {
    if (this.closing) return;
    this.bytesUp += chunk.length;
    if (!this.agent.write(chunk)) this.browser.pause();
  }

  /** @internal */
  resumePeerOf(drained: Duplex): void {
    (drained === this.browser ? this.agent : this.browser).resume();
  }

  /** @internal */
  browserGone(): void {
    this.finish('browser-closed');
  }

  start(responseHead: Buffer, fromAgent: Buffer, fromBrowser: Buffer): void {
    this.browser.write(responseHead);
    if (fromAgent.length > 0) {
      this.bytesDown += fromAgent.length;
      this.agentFrames.feed(fromAgent);
      this.browser.write(fromAgent);
    }
    if (fromBrowser.length > 0) {
      this.bytesUp += fromBrowser.length;
      this.agent.write(fromBrowser);
    }
  }

  /**
   * Closes the browser's side with a close frame of ours — at a frame boundary, so the browser
   * sees a clean close with a code it understands (e.g. 4000: reconnect elsewhere and resume).
   */
  close(code: number, reason: string): void {
    if (this.closing || this.ended) return;
    this.closing = { code, reason };
    if (this.agentFrames.atBoundary) return this.sendCloseAndEnd('restart');
    setTimeout(() => this.destroy('restart'), CLOSE_GRACE_MS).unref();
  }

  private forwardUntilBoundary(chunk: Buffer): void {
    const upTo = this.agentFrames.feed(chunk, true);
    this.browser.write(upTo === chunk.length ? chunk : chunk.subarray(0, upTo));
    if (this.agentFrames.atBoundary) this.sendCloseAndEnd('restart');
  }

  private sendCloseAndEnd(how: SpliceEnd): void {
    const { code, reason } = this.closing ?? CloseCode.UpstreamFailed;
    this.agent.destroy();
    this.browser.end(closeFrame(code, reason));
    this.finish(how);
  }

  /** @internal */
  agentGone(): void {
    if (this.ended || this.closing) return;
    if (this.agentFrames.closeSeen) {
      // The agent closed the WebSocket itself (session ended): pass the close on as it is.
      this.browser.end();
      this.finish('agent-closed');
    } else if (this.agentFrames.atBoundary) {
      this.closing = { code: CloseCode.UpstreamFailed.code, reason: CloseCode.UpstreamFailed.reason };
      this.sendCloseAndEnd('agent-failed');
    } else {
      // Cut mid-frame: no valid close frame can follow; the browser sees 1006 and reconnects.
      this.destroy('agent-failed');
    }
  }

  private destroy(how: SpliceEnd): void {
    this.agent.destroy();
    this.browser.destroy();
    this.finish(how);
  }

  private finish(how: SpliceEnd): void {
    if (this.ended) return;
    this.ended = true;
    this.agent.destroy();
    if (how === 'browser-closed') this.browser.destroy();
    this.onEnd(this, how);
  }
}
