// What the gateway holds of an attachment once its sockets are spliced, whichever core does it:
// the JavaScript splice (splice.ts) or the native one (native-splice.ts).

/** How long a close of ours waits for the agent to finish the frame in progress. */
export const CLOSE_GRACE_MS = 2_000;
/** How long a browser sent our close and a FIN has to close its side (LINGER_MS in fd-splice.c). */
export const BROWSER_LINGER_MS = 10_000;

export type SpliceEnd = 'browser-closed' | 'agent-closed' | 'agent-failed' | 'restart';

export interface Spliced {
  /** Bytes browser → agent and agent → browser so far; read by the activity tracker and metrics. */
  readonly bytesUp: number;
  readonly bytesDown: number;
  /**
   * Starts relaying: the agent's 101 (responseHead) goes to the browser first, then the bytes
   * that came with it (fromAgent) and those that came with the upgrade request (fromBrowser).
   */
  start(responseHead: Buffer, fromAgent: Buffer, fromBrowser: Buffer): void;
  /** Closes the browser's side with a close frame of ours at a frame boundary (e.g. 4000). */
  close(code: number, reason: string): void;
}

export type SpliceEndHandler = (splice: Spliced, how: SpliceEnd) => void;
