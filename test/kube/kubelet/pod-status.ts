// The status a kubelet writes for a pod, computed from what its containers are doing: phase,
// podIP, conditions (a transition time moves only when the condition's status changes) and
// containerStatuses. A pure function; the result is sent as a strategic merge patch, with nulls
// where a field must go (a container that stopped running loses `state.running`).
import type { V1Pod, V1PodCondition } from '@kubernetes/client-node';

export type ContainerState =
  | { readonly kind: 'waiting'; readonly reason: string; readonly message?: string }
  | { readonly kind: 'running'; readonly startedAt: string; readonly ready: boolean }
  | Terminated;

export interface Terminated {
  readonly kind: 'terminated';
  readonly exitCode: number;
  readonly reason: string;
  readonly message?: string;
  readonly startedAt: string;
  readonly finishedAt: string;
}

export interface ContainerView {
  readonly name: string;
  readonly image: string;
  readonly state: ContainerState;
  readonly lastState?: Terminated;
  readonly restartCount: number;
  /** `rig://<pod uid>/<container>/<attempt>` once it has run. */
  readonly containerId?: string;
}

export interface PodView {
  readonly podIp: string | undefined;
  readonly hostIp: string;
  readonly startTime: string;
  readonly containers: readonly ContainerView[];
}

function stateJson(state: ContainerState | undefined, containerId: string | undefined): Record<string, unknown> {
  if (!state) return {};
  switch (state.kind) {
    case 'waiting':
      return { waiting: { reason: state.reason, ...(state.message ? { message: state.message } : {}) }, running: null, terminated: null };
    case 'running':
      return { waiting: null, running: { startedAt: state.startedAt }, terminated: null };
    case 'terminated':
      return {
        waiting: null,
        running: null,
        terminated: {
          exitCode: state.exitCode,
          reason: state.reason,
          ...(state.message ? { message: state.message } : {}),
          startedAt: state.startedAt,
          finishedAt: state.finishedAt,
          ...(containerId ? { containerID: containerId } : {}),
        },
      };
  }
}

export function podPhase(view: PodView): 'Pending' | 'Running' | 'Succeeded' | 'Failed' {
  const states = view.containers.map((container) => container.state);
  if (states.length > 0 && states.every((state) => state.kind === 'terminated')) {
    return states.every((state) => state.kind === 'terminated' && state.exitCode === 0) ? 'Succeeded' : 'Failed';
  }
  const started = view.containers.some((container) => container.state.kind === 'running' || container.restartCount > 0 || container.lastState);
  return started ? 'Running' : 'Pending';
}

function condition(pod: V1Pod, type: string, ok: boolean, now: string, reason?: string, message?: string): V1PodCondition {
  const status = ok ? 'True' : 'False';
  const before = pod.status?.conditions?.find((existing) => existing.type === type);
  const lastTransitionTime = before && before.status === status && before.lastTransitionTime ? before.lastTransitionTime : (now as unknown as Date);
  return {
    type,
    status,
    lastProbeTime: null as unknown as undefined,
    lastTransitionTime,
    ...(ok ? { reason: null as unknown as undefined, message: null as unknown as undefined } : { reason, message }),
  };
}

/** The `status` to patch. `now` is an RFC 3339 time (seconds precision, as the API stores it). */
export function podStatusPatch(pod: V1Pod, view: PodView, now: string): Record<string, unknown> {
  const phase = podPhase(view);
  const unready = view.containers.filter((container) => !(container.state.kind === 'running' && container.state.ready)).map((container) => container.name);
  const allReady = unready.length === 0 && view.containers.length > 0;
  const notReadyMessage = `containers with unready status: [${unready.join(' ')}]`;
  const finished = phase === 'Succeeded' || phase === 'Failed';
  const reason = finished ? 'PodCompleted' : 'ContainersNotReady';
  return {
    phase,
    hostIP: view.hostIp,
    ...(view.podIp ? { podIP: view.podIp, podIPs: [{ ip: view.podIp }] } : {}),
    startTime: view.startTime,
    conditions: [
      condition(pod, 'Initialized', true, now),
      condition(pod, 'ContainersReady', allReady, now, reason, finished ? undefined : notReadyMessage),
      condition(pod, 'Ready', allReady, now, reason, finished ? undefined : notReadyMessage),
    ],
    containerStatuses: view.containers.map((container) => ({
      name: container.name,
      image: container.image,
      imageID: `rig://${container.image}`,
      ...(container.containerId ? { containerID: container.containerId } : {}),
      ready: container.state.kind === 'running' && container.state.ready,
      started: container.state.kind === 'running',
      restartCount: container.restartCount,
      state: stateJson(container.state, container.containerId),
      lastState: container.lastState ? { terminated: stateJson(container.lastState, undefined).terminated } : {},
    })),
  };
}

/** RFC 3339 without fractions: what the API server keeps for metav1.Time. */
export function rfc3339(ms = Date.now()): string {
  return new Date(Math.floor(ms / 1000) * 1000).toISOString().replace('.000Z', 'Z');
}
