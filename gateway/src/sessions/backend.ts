// Where terminals run. Local mode starts agents as processes on this machine; the operator issue
// adds a Kubernetes backend (TerminalSession → pod). The gateway depends only on this interface.
import type { SessionRecord } from '../store/types.js';

export interface StartRequest {
  readonly id: string;
  readonly owner: string;
  readonly tenant: string;
  readonly cols: number;
  readonly rows: number;
}

export interface StartedTerminal {
  /** Where the agent listens: `unix:/path` or `host:port`. */
  readonly endpoint: string;
  readonly pid: number | null;
}

export interface TerminalBackend {
  /** Whether the terminals it starts are recorded (shown to their users). */
  readonly recording: boolean;
  /** Starts a terminal and resolves once its agent accepts connections. */
  start(request: StartRequest): Promise<StartedTerminal>;
  /** Ends the terminal; resolves when it is gone (or was already). */
  stop(record: SessionRecord): Promise<void>;
  /**
   * Whether the session's terminal still exists. Asked when its agent cannot be reached, to tell
   * a terminal that is gone for good (forget the session) from one that is briefly unreachable.
   */
  isRunning(record: SessionRecord): Promise<boolean>;
  /**
   * How many clients are attached to each of these sessions' terminals now. The agents count
   * them — they hold the sockets of every gateway replica's attachments, so the figure is right
   * however many replicas there are. A session whose agent did not answer is left out.
   */
  attachments(records: readonly SessionRecord[]): Promise<ReadonlyMap<string, number>>;
  /**
   * Registers a listener for terminals that ended by themselves (the shell exited, or the process
   * serving it died), with why, in words for the user.
   */
  onEnded(listener: (sessionId: string, reason: string) => void): void;
  /** Stops watching; running terminals keep running (they outlive a gateway restart). */
  close(): Promise<void>;
}
