// The session's status from what was observed, at a fixed time: every phase and Ready reason a
// user reads in `kubectl get ts`, expiry by idleness and by lifetime, and the deletion after the end.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { V1Pod } from '@kubernetes/client-node';
import type { TerminalSession, TerminalSessionStatus } from '../../../operator/src/api/index.js';
import { sessionVerdict, sameStatus, readyCondition, AGENT_START_RETRY_MS, START_QUIET_MS, type AgentActivity, type Observation } from '../../../operator/src/desired/session-status.js';
import { observePod, type PodView } from '../../../operator/src/desired/observe-pod.js';
import { session } from './session-fixture.js';

const T0 = Date.parse('2026-01-01T00:00:00Z');
const at = (seconds: number) => T0 + seconds * 1000;
const iso = (seconds: number) => new Date(at(seconds)).toISOString();

/** A pod made long before (its start no longer quiet), unless said otherwise. */
function seen(pod: PodView, agent: AgentActivity | null = null, problem: Observation['problem'] = null, podCreatedAt: number | null = at(-3600)): Observation {
  return { pod, agent, problem, changed: null, agentPort: 7681, pollMs: 10_000, podCreatedAt };
}
const running: PodView = { kind: 'running', podIP: '127.0.1.5', ready: true };
const agentAt = (start: number, input: number | null, output: number | null, attachments = 0): AgentActivity => ({
  startedAt: iso(start), lastInputAt: input === null ? null : iso(input), lastOutputAt: output === null ? null : iso(output), attachments,
});
function withStatus(status: TerminalSessionStatus, spec: Partial<TerminalSession['spec']> = {}): TerminalSession {
  return { ...session({ idleTimeout: '10m', maxLifetime: '1h', ...spec }), status };
}

test('each observation gives the phase and Ready reason a user reads', () => {
  const table: Array<{ name: string; s: TerminalSession; o: Observation; now: number; phase: string; ready: string; reason: string; ended: boolean; message?: RegExp }> = [
    { name: 'new, no pod yet', s: withStatus({}), o: seen({ kind: 'absent' }), now: at(1), phase: 'Pending', ready: 'False', reason: 'Pending', ended: false },
    { name: 'role not grantable', s: withStatus({}), o: seen({ kind: 'absent' }, null, { reason: 'RoleNotGrantable', message: 'no' }), now: at(1), phase: 'Pending', ready: 'False', reason: 'RoleNotGrantable', ended: false },
    { name: 'pod starting', s: withStatus({ podName: 'cloudterm-alice-1' }), o: seen({ kind: 'pending', message: 'the pod is starting' }), now: at(2), phase: 'Pending', ready: 'False', reason: 'Pending', ended: false },
    { name: 'image pull failing', s: withStatus({ podName: 'cloudterm-alice-1' }), o: seen({ kind: 'imagePullFailed', message: 'the image x cannot be pulled: ErrImagePull' }), now: at(2), phase: 'Pending', ready: 'False', reason: 'ImagePullFailed', ended: false, message: /cannot be pulled/ },
    { name: 'running, agent answers', s: withStatus({ podName: 'cloudterm-alice-1' }), o: seen(running, agentAt(3, null, 4)), now: at(5), phase: 'Running', ready: 'True', reason: 'Running', ended: false },
    { name: 'running, agent silent', s: withStatus({ podName: 'cloudterm-alice-1' }), o: seen(running), now: at(5), phase: 'Pending', ready: 'False', reason: 'Pending', ended: false },
    { name: 'shell exited 0', s: withStatus({ phase: 'Running', podName: 'p', startedAt: iso(3) }), o: seen({ kind: 'terminated', exitCode: 0, reason: 'Completed', message: 'm' }), now: at(9), phase: 'Succeeded', ready: 'False', reason: 'Exited', ended: true },
    { name: 'container killed', s: withStatus({ phase: 'Running', podName: 'p', startedAt: iso(3) }), o: seen(observePod(killedPod)), now: at(9), phase: 'Failed', ready: 'False', reason: 'PodFailed', ended: true, message: /Error, exit code 137/ },
    { name: 'pod gone while running', s: withStatus({ phase: 'Running', podName: 'p', startedAt: iso(3) }), o: seen({ kind: 'absent' }), now: at(9), phase: 'Failed', ready: 'False', reason: 'PodLost', ended: true },
    { name: 'idle too long', s: withStatus({ phase: 'Running', podName: 'p', startedAt: iso(0) }), o: seen(running, agentAt(0, 60, 61)), now: at(61 + 600), phase: 'Expired', ready: 'False', reason: 'IdleTimeout', ended: true, message: /no input or output for 10m/ },
    { name: 'active but past max lifetime', s: withStatus({ phase: 'Running', podName: 'p', startedAt: iso(0) }), o: seen(running, agentAt(0, 3599, 3600)), now: at(3600), phase: 'Expired', ready: 'False', reason: 'MaxLifetime', ended: true, message: /maximum lifetime of 1h/ },
    { name: 'stuck pending: never idle', s: withStatus({ podName: 'p' }), o: seen({ kind: 'imagePullFailed', message: 'x' }), now: at(3599), phase: 'Pending', ready: 'False', reason: 'ImagePullFailed', ended: false },
    { name: 'stuck pending past its lifetime', s: withStatus({ podName: 'p' }), o: seen({ kind: 'imagePullFailed', message: 'x' }), now: at(3600), phase: 'Expired', ready: 'False', reason: 'MaxLifetime', ended: true },
  ];
  for (const row of table) {
    const verdict = sessionVerdict(row.s, row.o, row.now);
    const ready = verdict.status.conditions!.find((c) => c.type === 'Ready')!;
    assert.equal(verdict.status.phase, row.phase, row.name);
    assert.equal(ready.status, row.ready, row.name);
    assert.equal(ready.reason, row.reason, row.name);
    assert.equal(ready.observedGeneration, 1, row.name);
    assert.equal(verdict.status.observedGeneration, 1, row.name);
    assert.equal(verdict.ended, row.ended, row.name);
    if (row.message) assert.match(verdict.status.message!, row.message, row.name);
  }
});

test('a start going as it should is not reported until it takes long; a problem or Running at once', () => {
  const quiet = START_QUIET_MS / 1000;
  const fresh = withStatus(undefined as unknown as TerminalSessionStatus);
  for (const pod of [{ kind: 'pending', message: 'the pod is starting' } as PodView, { ...running, ready: false } as PodView, running]) {
    const verdict = sessionVerdict(fresh, seen(pod, null, null, at(0)), at(quiet - 1));
    assert.equal(sameStatus(fresh.status, verdict.status), true, `${pod.kind}: no status write`);
    assert.equal(verdict.requeueAfterMs, pod.kind === 'running' ? AGENT_START_RETRY_MS : 1000, 'a running agent asked again soon, else looked at again when the quiet time is over');
    const late = sessionVerdict(fresh, seen(pod, null, null, at(0)), at(quiet));
    assert.equal(late.status.phase, 'Pending', `${pod.kind}: reported once it takes long`);
  }
  assert.equal(sessionVerdict(fresh, seen(running, agentAt(1, null, null), null, at(0)), at(2)).status.phase, 'Running');
  assert.equal(sessionVerdict(fresh, seen({ ...running, ready: false } as PodView, agentAt(1, null, null), null, at(0)), at(2)).status.phase, 'Running', 'the agent answering is enough: the readiness probe may not have run yet');
  assert.equal(sessionVerdict(fresh, seen({ kind: 'imagePullFailed', message: 'x' }, null, null, at(0)), at(1)).status.conditions![0]!.reason, 'ImagePullFailed');
  assert.equal(sessionVerdict(fresh, seen({ kind: 'absent' }, null, { reason: 'RoleNotGrantable', message: 'no' }, null), at(1)).status.conditions![0]!.reason, 'RoleNotGrantable');
  const reported = withStatus({ phase: 'Pending', podName: 'cloudterm-alice-1' });
  assert.equal(sessionVerdict(reported, seen({ kind: 'pending', message: 'the pod is waiting for a node' }, null, null, at(0)), at(1)).status.message, 'the pod is waiting for a node', 'once reported, it is kept current');
});

const killedPod: V1Pod = {
  metadata: { name: 'p' },
  spec: { containers: [{ name: 'terminal', image: 'i' }] },
  status: { phase: 'Failed', containerStatuses: [{ name: 'terminal', image: 'i', imageID: '', ready: false, restartCount: 0, state: { terminated: { exitCode: 137, reason: 'Error' } } }] },
};

test('a spec changed where it may not be, after the start, ends the session as Invalid', () => {
  const changed = { ...seen(running, agentAt(3, 20, 30)), changed: { reason: 'Invalid' as const, message: 'the spec changed after the session started: spec.owner: spec.owner is immutable' } };
  const verdict = sessionVerdict(withStatus({ phase: 'Running', podName: 'p', startedAt: iso(3) }), changed, at(40));
  assert.equal(verdict.status.phase, 'Failed');
  assert.equal(verdict.status.conditions!.find((c) => c.type === 'Ready')!.reason, 'Invalid');
  assert.equal(verdict.ended, true);
});

test('a running session reports its endpoint, activity, attachments and expiry, and polls again', () => {
  const verdict = sessionVerdict(withStatus({ podName: 'cloudterm-alice-1' }), seen(running, agentAt(3, 20, 30, 2)), at(40));
  assert.equal(verdict.status.endpoint, 'http://127.0.1.5:7681');
  assert.equal(verdict.status.startedAt, iso(3));
  assert.equal(verdict.status.lastActivityAt, iso(30));
  assert.equal(verdict.status.expiresAt, iso(630));
  assert.equal(verdict.status.attached, 2);
  assert.equal(verdict.requeueAfterMs, 10_000);
  // Close to the expiry, the next look is at the expiry itself.
  assert.equal(sessionVerdict(withStatus({ podName: 'p' }), seen(running, agentAt(3, null, 30)), at(625)).requeueAfterMs, 5_000);
});

test('an ended session is deleted after ttlAfterEnd, or kept when asked', () => {
  const ended = { phase: 'Expired' as const, endedAt: iso(100) };
  assert.equal(sessionVerdict(withStatus(ended, { ttlAfterEnd: '30s' }), seen({ kind: 'absent' }), at(110)).requeueAfterMs, 20_000);
  assert.equal(sessionVerdict(withStatus(ended, { ttlAfterEnd: '30s' }), seen({ kind: 'absent' }), at(200)).requeueAfterMs, 0);
  assert.equal(sessionVerdict(withStatus(ended, { keepAfterEnd: true }), seen({ kind: 'absent' }), at(200)).requeueAfterMs, null);
  // An ended session never goes back to running, whatever is seen.
  assert.equal(sessionVerdict(withStatus(ended), seen(running, agentAt(0, 1, 1)), at(110)).status.phase, 'Expired');
});

test('status is written only when it changed: the same observation twice gives the same status', () => {
  const first = sessionVerdict(withStatus({ podName: 'cloudterm-alice-1' }), seen(running, agentAt(3, 20, 30)), at(40)).status;
  const second = sessionVerdict(withStatus(first), seen(running, agentAt(3, 20, 30)), at(45)).status;
  assert.equal(sameStatus(first, second), true);
  const typed = sessionVerdict(withStatus(first), seen(running, agentAt(3, 44, 44)), at(45)).status;
  assert.equal(sameStatus(first, typed), false);
});

test('the Ready condition keeps its transition time while its status holds', () => {
  const first = readyCondition(undefined, 'False', 'Pending', 'a', 1, at(0));
  const same = readyCondition(first, 'False', 'ImagePullFailed', 'b', 2, at(10));
  assert.equal(same[0]!.lastTransitionTime, iso(0));
  assert.equal(same[0]!.observedGeneration, 2);
  const flipped = readyCondition(same, 'True', 'Running', 'c', 2, at(20));
  assert.equal(flipped[0]!.lastTransitionTime, iso(20));
});

test('observePod reads the kubelet: pull errors, waiting, ready, evicted', () => {
  const pod = (status: V1Pod['status'], deleting = false): V1Pod => ({ metadata: { name: 'p', ...(deleting ? { deletionTimestamp: new Date() } : {}) }, spec: { containers: [{ name: 'terminal', image: 'bad image' }] }, status });
  const waiting = (reason: string) => pod({ phase: 'Pending', containerStatuses: [{ name: 'terminal', image: '', imageID: '', ready: false, restartCount: 0, state: { waiting: { reason } } }] });
  const table: Array<{ pod: V1Pod | undefined; kind: PodView['kind'] }> = [
    { pod: undefined, kind: 'absent' },
    { pod: pod({}, true), kind: 'deleting' },
    { pod: pod({ phase: 'Pending' }), kind: 'pending' },
    { pod: waiting('ContainerCreating'), kind: 'pending' },
    { pod: waiting('ErrImagePull'), kind: 'imagePullFailed' },
    { pod: waiting('ImagePullBackOff'), kind: 'imagePullFailed' },
    { pod: pod({ phase: 'Failed', reason: 'Evicted', message: 'low memory' }), kind: 'terminated' },
    { pod: pod({ phase: 'Running', podIP: '127.0.1.2', conditions: [{ type: 'Ready', status: 'True' }], containerStatuses: [{ name: 'terminal', image: '', imageID: '', ready: true, restartCount: 0, state: { running: {} } }] }), kind: 'running' },
  ];
  for (const row of table) assert.equal(observePod(row.pod).kind, row.kind, JSON.stringify(row.pod?.status));
  assert.match((observePod(pod({ phase: 'Failed', reason: 'Evicted', message: 'low memory' })) as { message: string }).message, /Evicted: low memory/);
});
