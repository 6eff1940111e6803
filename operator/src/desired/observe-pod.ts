// What a terminal pod's status says, reduced to what the session's status needs: a pure reading
// of the object the kubelet writes, so each case (image pull failing, container terminated with
// its reason and exit code, evicted) is a table row in the tests.
import type { V1Pod } from '@kubernetes/client-node';
import { TERMINAL_CONTAINER } from './pod.js';

export type PodView =
  | { readonly kind: 'absent' }
  | { readonly kind: 'deleting' }
  /** Not running yet: scheduling, creating the container. */
  | { readonly kind: 'pending'; readonly message: string }
  /** The kubelet cannot pull the image (it keeps trying; the session says why). */
  | { readonly kind: 'imagePullFailed'; readonly message: string }
  | { readonly kind: 'running'; readonly podIP: string | null; readonly ready: boolean }
  /** The container (or the pod) ended: the shell exited, was killed, or the pod was evicted. */
  | { readonly kind: 'terminated'; readonly exitCode: number | null; readonly reason: string; readonly message: string };

const IMAGE_PULL_REASONS = new Set(['ErrImagePull', 'ImagePullBackOff', 'InvalidImageName', 'ErrImageNeverPull']);

export function observePod(pod: V1Pod | undefined): PodView {
  if (!pod) return { kind: 'absent' };
  if (pod.metadata?.deletionTimestamp) return { kind: 'deleting' };
  const status = pod.status ?? {};
  const container = status.containerStatuses?.find((c) => c.name === TERMINAL_CONTAINER);
  const terminated = container?.state?.terminated;
  if (terminated) {
    const reason = terminated.reason ?? (terminated.exitCode === 0 ? 'Completed' : 'Error');
    const signal = terminated.signal ? `, signal ${terminated.signal}` : '';
    return {
      kind: 'terminated',
      exitCode: terminated.exitCode,
      reason,
      message: `the terminal container ended: ${reason}, exit code ${terminated.exitCode}${signal}${terminated.message ? ` (${terminated.message})` : ''}`,
    };
  }
  if (status.phase === 'Failed' || status.phase === 'Succeeded') {
    // Evicted, or ended before the container had a status.
    const reason = status.reason ?? (status.phase === 'Succeeded' ? 'Completed' : 'Failed');
    return { kind: 'terminated', exitCode: null, reason, message: `the pod ended: ${reason}${status.message ? `: ${status.message}` : ''}` };
  }
  const waiting = container?.state?.waiting;
  if (waiting?.reason && IMAGE_PULL_REASONS.has(waiting.reason)) {
    return { kind: 'imagePullFailed', message: `the image ${pod.spec?.containers[0]?.image ?? ''} cannot be pulled: ${waiting.reason}${waiting.message ? `: ${waiting.message}` : ''}` };
  }
  if (status.phase === 'Running' && container?.state?.running) {
    const ready = status.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false;
    return { kind: 'running', podIP: status.podIP ?? null, ready };
  }
  if (waiting?.reason) return { kind: 'pending', message: `the terminal container is waiting: ${waiting.reason}${waiting.message ? `: ${waiting.message}` : ''}` };
  const scheduled = status.conditions?.find((c) => c.type === 'PodScheduled');
  if (scheduled?.status === 'False') return { kind: 'pending', message: `the pod cannot be scheduled yet: ${scheduled.message ?? scheduled.reason ?? 'no node'}` };
  return { kind: 'pending', message: pod.spec?.nodeName ? 'the pod is starting' : 'the pod is waiting for a node' };
}
