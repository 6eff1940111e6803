// The status a TerminalSession should have, from what the reconcile observed (the pod, the agent's
// own /status, a problem with the spec) and the time: a pure function, table-tested with a fixed
// clock. It also says whether the session has ended (its children are removed then) and when to
// look again (the next expiry, the next activity poll).
import {
  CONDITION_READY,
  READY_REASONS,
  TERMINAL_PHASES,
  expiryOf,
  parseDuration,
  type Condition,
  type ConditionStatus,
  type Phase,
  type ReadyReason,
  type TerminalSession,
  type TerminalSessionStatus,
} from '../api/index.js';
import type { AgentStatus } from '../../../agent/src/index.js';
import type { PodView } from './observe-pod.js';
import { childNames } from './names.js';

/** The agent's GET /status answer, the part the operator reads. */
export type AgentActivity = Pick<AgentStatus, 'startedAt' | 'lastInputAt' | 'lastOutputAt' | 'attachments'>;

/** Something about the spec or its namespace that stops the session from starting. */
export interface SpecProblem {
  readonly reason: ReadyReason;
  readonly message: string;
}

export interface Observation {
  readonly pod: PodView;
  /** null when the agent did not answer (or was not asked). */
  readonly agent: AgentActivity | null;
  readonly problem: SpecProblem | null;
  /** The spec was changed where it may not be, after the pod started (servers before 1.25). */
  readonly changed: SpecProblem | null;
  readonly agentPort: number;
  /** How often a running session's activity is read. */
  readonly pollMs: number;
  /** When the session's pod was created (null: there is none). */
  readonly podCreatedAt: number | null;
}

/**
 * How long a pod may take to start before the session says it is Pending. A start that goes as it
 * should is not reported step by step: most sessions go from no phase to Running in one status
 * write (at 1000 sessions at once, every write is the API server's time taken from the others).
 */
export const START_QUIET_MS = 10_000;

/**
 * How soon a starting agent is asked again, while its container runs and it does not answer yet:
 * the session is Running as soon as the agent answers, whether or not the kubelet's readiness
 * probe (every second) has run since.
 */
export const AGENT_START_RETRY_MS = 150;

export interface Verdict {
  readonly status: TerminalSessionStatus;
  /** The session is over: its pod and other children go. */
  readonly ended: boolean;
  /** Look again after this long (null: only when something changes). */
  readonly requeueAfterMs: number | null;
}

const iso = (ms: number): string => new Date(ms).toISOString();
const time = (text: string | null | undefined): number | null => (text ? Date.parse(text) : null);

/** Sets the Ready condition, keeping its lastTransitionTime when its status did not change. */
export function readyCondition(previous: readonly Condition[] | undefined, status: ConditionStatus, reason: ReadyReason, message: string, generation: number, now: number): Condition[] {
  const old = previous?.find((c) => c.type === CONDITION_READY);
  const others = (previous ?? []).filter((c) => c.type !== CONDITION_READY);
  const lastTransitionTime = old && old.status === status ? old.lastTransitionTime : iso(now);
  return [...others, { type: CONDITION_READY, status, observedGeneration: generation, lastTransitionTime, reason, message }];
}

function withReady(session: TerminalSession, now: number, fields: TerminalSessionStatus, status: ConditionStatus, reason: ReadyReason, message: string): TerminalSessionStatus {
  const generation = session.metadata.generation ?? 0;
  return {
    ...session.status,
    ...fields,
    observedGeneration: generation,
    message,
    conditions: readyCondition(session.status?.conditions, status, reason, message, generation, now),
  };
}

/** How long an ended session stays before it is deleted; null when it is kept. */
export function deleteAfterMs(session: TerminalSession, now: number): number | null {
  if (session.spec.keepAfterEnd) return null;
  const ended = time(session.status?.endedAt) ?? now;
  return Math.max(0, ended + parseDuration(session.spec.ttlAfterEnd) - now);
}

function end(session: TerminalSession, now: number, phase: Phase, reason: ReadyReason, message: string, extra: TerminalSessionStatus = {}): Verdict {
  const status = withReady(session, now, { ...extra, phase, endedAt: iso(now), attached: 0, endpoint: undefined, expiresAt: undefined }, 'False', reason, message);
  return { status, ended: true, requeueAfterMs: deleteAfterMs({ ...session, status }, now) };
}

export function sessionVerdict(session: TerminalSession, seen: Observation, now: number): Verdict {
  const current = session.status ?? {};
  if (current.phase && TERMINAL_PHASES.includes(current.phase)) {
    return { status: current, ended: true, requeueAfterMs: deleteAfterMs(session, now) };
  }
  const podName = childNames(session).pod;
  if (seen.changed) return end(session, now, 'Failed', seen.changed.reason, seen.changed.message);
  const view = seen.pod;
  const agent = view.kind === 'running' && view.podIP ? seen.agent : null;
  // Once the agent runs, the agent's own account of input and output is the source of idleness.
  // Before it ever ran, a session cannot be idle, but its lifetime (from creation) still ends it,
  // so that one stuck before it starts (an image that never pulls) does not stay for ever.
  const created = time(session.metadata.creationTimestamp) ?? now;
  const ranAt = time(current.startedAt ?? agent?.startedAt);
  const startedAt = ranAt ?? created;
  const activity = Math.max(startedAt, time(current.lastActivityAt) ?? 0, time(agent?.lastInputAt) ?? 0, time(agent?.lastOutputAt) ?? 0);
  const expiry = ranAt === null ? { at: created + parseDuration(session.spec.maxLifetime), reason: 'MaxLifetime' as const } : expiryOf(session.spec, startedAt, activity);
  if (now >= expiry.at) {
    const message =
      expiry.reason === 'IdleTimeout'
        ? `no input or output for ${session.spec.idleTimeout}: the session expired`
        : `the maximum lifetime of ${session.spec.maxLifetime} has passed: the session expired`;
    return end(session, now, 'Expired', READY_REASONS[expiry.reason], message, agent ? { lastActivityAt: iso(activity) } : {});
  }
  const untilExpiry = expiry.at - now;

  if (view.kind === 'terminated') {
    if (view.exitCode === 0) return end(session, now, 'Succeeded', READY_REASONS.Exited, 'the shell exited with status 0', { exitCode: 0 });
    return end(session, now, 'Failed', READY_REASONS.PodFailed, view.message, view.exitCode === null ? {} : { exitCode: view.exitCode });
  }
  if (view.kind === 'absent' && current.podName) {
    return end(session, now, 'Failed', READY_REASONS.PodLost, `the pod ${current.podName} disappeared while the session ran`);
  }
  if (seen.problem && !current.podName) {
    const status = withReady(session, now, { phase: 'Pending' }, 'False', seen.problem.reason, seen.problem.message);
    return { status, ended: false, requeueAfterMs: untilExpiry };
  }
  const starting = view.kind === 'pending' || (view.kind === 'running' && !agent);
  if (starting && !current.phase && seen.podCreatedAt !== null && now - seen.podCreatedAt < START_QUIET_MS) {
    // Back when the quiet time ends (to say Pending), and sooner to ask an agent that runs.
    const quietLeft = seen.podCreatedAt + START_QUIET_MS - now;
    const again = view.kind === 'running' ? Math.min(AGENT_START_RETRY_MS, quietLeft) : quietLeft;
    return { status: current, ended: false, requeueAfterMs: Math.min(untilExpiry, again) };
  }
  if (view.kind === 'absent' || view.kind === 'deleting' || view.kind === 'pending') {
    const message = view.kind === 'pending' ? view.message : 'creating the pod';
    const status = withReady(session, now, { phase: 'Pending', podName: view.kind === 'absent' ? current.podName : podName }, 'False', READY_REASONS.Pending, message);
    return { status, ended: false, requeueAfterMs: untilExpiry };
  }
  if (view.kind === 'imagePullFailed') {
    const status = withReady(session, now, { phase: 'Pending', podName }, 'False', READY_REASONS.ImagePullFailed, view.message);
    return { status, ended: false, requeueAfterMs: untilExpiry };
  }
  if (!agent || view.kind !== 'running' || !view.podIP) {
    const phase = current.phase === 'Running' ? 'Running' : 'Pending';
    const status = withReady(session, now, { phase, podName }, 'False', READY_REASONS.Pending, 'waiting for the agent to answer');
    return { status, ended: false, requeueAfterMs: Math.min(untilExpiry, seen.pollMs) };
  }
  const host = view.podIP.includes(':') ? `[${view.podIP}]` : view.podIP;
  const status = withReady(
    session,
    now,
    {
      phase: 'Running',
      podName,
      endpoint: `http://${host}:${seen.agentPort}`,
      startedAt: iso(startedAt),
      lastActivityAt: iso(activity),
      expiresAt: iso(expiry.at),
      attached: agent.attachments,
    },
    'True',
    READY_REASONS.Running,
    'the terminal is ready to attach',
  );
  return { status, ended: false, requeueAfterMs: Math.min(untilExpiry, seen.pollMs) };
}

/** Whether two statuses say the same (the reconcile writes only when they differ). */
export function sameStatus(a: TerminalSessionStatus | undefined, b: TerminalSessionStatus): boolean {
  return JSON.stringify(normalize(a ?? {})) === JSON.stringify(normalize(b));
}

function normalize(status: TerminalSessionStatus): unknown {
  const entries = Object.entries(status).filter(([, value]) => value !== undefined);
  entries.sort(([x], [y]) => (x < y ? -1 : 1));
  return entries.map(([key, value]) => [key, key === 'conditions' ? (value as Condition[]).map((c) => [c.type, c.status, c.reason, c.message, c.observedGeneration, c.lastTransitionTime]) : value]);
}
