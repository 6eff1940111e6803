// How a container's end is reported and what follows it, as the kubelet decides: the terminated
// state (exit code and reason), then a restart after a back-off or the end, by restartPolicy.
// Pure, so that the rules are tested without processes.
import type { ContainerState, Terminated } from './pod-status.js';

export const MAX_BACKOFF_MS = 60_000;

export interface ExitFacts {
  /** The exit code the shim recorded; undefined when it was killed or never got that far. */
  readonly code: number | undefined;
  /** The program's PID was recorded (it started). */
  readonly programStarted: boolean;
  /** The pod is being deleted: nothing restarts. */
  readonly terminating: boolean;
  readonly startedAt: string;
  readonly finishedAt: string;
  /** Why it could not start (the tail of its log), for a shim that failed before the program. */
  readonly startFailure: () => string;
  /** Said when the process is gone without a trace (after a kubelet restart). */
  readonly unknownMessage?: string;
}

export function terminatedState(facts: ExitFacts): Terminated {
  const { code, startedAt, finishedAt } = facts;
  if (code === undefined && !facts.terminating && !facts.programStarted) {
    return { kind: 'terminated', exitCode: 128, reason: 'StartError', message: facts.startFailure(), startedAt, finishedAt };
  }
  if (code === undefined) {
    // SIGKILLed with its shim (the end of a grace period), or gone while no kubelet watched.
    return facts.terminating
      ? { kind: 'terminated', exitCode: 137, reason: 'Error', startedAt, finishedAt }
      : { kind: 'terminated', exitCode: 137, reason: 'ContainerStatusUnknown', message: facts.unknownMessage ?? 'The container could not be located', startedAt, finishedAt };
  }
  return { kind: 'terminated', exitCode: code, reason: code === 0 ? 'Completed' : 'Error', startedAt, finishedAt };
}

export type ExitOutcome =
  | { readonly restart: false; readonly state: Terminated }
  | { readonly restart: true; readonly lastState: Terminated; readonly backoffMs: number; readonly state: ContainerState };

/** `restartCount` is the count before this exit; `who` names the container in the back-off message. */
export function exitOutcome(terminated: Terminated, policy: string, terminating: boolean, restartCount: number, baseBackoffMs: number, who: string): ExitOutcome {
  const restart = !terminating && (policy === 'Always' || (policy === 'OnFailure' && terminated.exitCode !== 0));
  if (!restart) return { restart: false, state: terminated };
  const backoffMs = Math.min(baseBackoffMs * 2 ** restartCount, MAX_BACKOFF_MS);
  return {
    restart: true,
    lastState: terminated,
    backoffMs,
    state: { kind: 'waiting', reason: 'CrashLoopBackOff', message: `back-off ${Math.round(backoffMs / 1000)}s restarting failed ${who}` },
  };
}
