// How a terminal ends, on the rig with real agents: a killed shell is reported with the
// container's reason and exit code and not restarted; idleness (read from the agent's own
// /status) and the maximum lifetime end the session and leave no pod, Secret, ServiceAccount or
// RoleBinding; the session is deleted after ttlAfterEnd, or kept when it asks.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { V1Pod } from '@kubernetes/client-node';
import { kubectl } from '../kube/index.js';
import { applySession, eventually, getJson, getSession, operatorKubelet, operatorRig, pinTo, runOperator, tenantNamespace, type OperatorRig } from '../helpers/operator-fixture.js';
import type { TerminalSession } from '../../operator/src/api/index.js';

const leftovers = async (rig: OperatorRig, ns: string) =>
  (await kubectl(['get', 'pods,secrets,serviceaccounts,rolebindings', '-n', ns, '-l', 'app.kubernetes.io/managed-by=cloudterm-operator', '-o', 'name'], { kubeconfig: rig.plane })).stdout.trim();

const phase = (rig: OperatorRig, ns: string, name: string, want: string, timeoutMs = 60_000) =>
  eventually(`${name} ${want}`, async () => {
    const session = await getSession(rig.plane, ns, name);
    return session?.status?.phase === want ? session : undefined;
  }, timeoutMs).catch(async (error: Error) => {
    const pod = await getJson<V1Pod>(rig.plane, ['pod', `cloudterm-${name}`, '-n', ns]);
    throw new Error(`${error.message}\nsession status: ${JSON.stringify((await getSession(rig.plane, ns, name))?.status)}\npod status: ${JSON.stringify(pod?.status)}`);
  });

test('a killed shell is reported with its reason and exit code, and not restarted', async (t) => {
  const rig = await operatorRig(t);
  const kubelet = await operatorKubelet(rig.plane);
  const ns = await tenantNamespace(t, rig);
  await runOperator(t, rig, pinTo(kubelet));
  await applySession(rig.plane, ns, 'victim', { keepAfterEnd: true });
  await phase(rig, ns, 'victim', 'Running');
  const pod = (await getJson<V1Pod>(rig.plane, ['pod', 'cloudterm-victim', '-n', ns]))!;
  const pid = await eventually('the agent pid', async () => kubelet.pidOf(pod.metadata!.uid!, 'terminal'));
  process.kill(pid, 'SIGKILL');

  const failed: TerminalSession = await phase(rig, ns, 'victim', 'Failed');
  const ready = failed.status!.conditions!.find((c) => c.type === 'Ready')!;
  assert.equal(ready.reason, 'PodFailed');
  assert.equal(failed.status!.exitCode, 137);
  assert.match(failed.status!.message!, /exit code 137/);
  const { stdout } = await kubectl(['describe', 'ts', 'victim', '-n', ns], { kubeconfig: rig.plane });
  assert.match(stdout, /Warning\s+PodFailed/);
  await eventually('nothing left', async () => (await leftovers(rig, ns)) === '', 60_000);
  // Not silently restarted: a while later there is still no pod, and the session stays Failed (kept).
  await new Promise((resolve) => setTimeout(resolve, 3000));
  assert.equal(await leftovers(rig, ns), '');
  assert.equal((await getSession(rig.plane, ns, 'victim'))!.status!.phase, 'Failed');
});

// The CRD's minimum for both limits is a minute: the two expiries run side by side.
test('idle expiry (from the agent\'s activity) and the maximum lifetime (of a busy shell) end their sessions and leave nothing', async (t) => {
  const rig = await operatorRig(t);
  const kubelet = await operatorKubelet(rig.plane);
  const ns = await tenantNamespace(t, rig);
  await runOperator(t, rig, pinTo(kubelet));
  await applySession(rig.plane, ns, 'idle', { idleTimeout: '1m', maxLifetime: '1h', ttlAfterEnd: '3s', access: { role: { kind: 'ClusterRole', name: 'view' } } });
  // The shell keeps producing output, so it is never idle; only the lifetime can end it.
  await applySession(rig.plane, ns, 'busy', { idleTimeout: '1m', maxLifetime: '1m', keepAfterEnd: true, command: ['/bin/sh', '-c', 'while true; do date; sleep 5; done'] });
  const started = await phase(rig, ns, 'idle', 'Running');
  assert.ok(started.status!.expiresAt, 'expiresAt is shown while it runs');
  await phase(rig, ns, 'busy', 'Running');

  const [idle, busy] = await Promise.all([phase(rig, ns, 'idle', 'Expired', 150_000), phase(rig, ns, 'busy', 'Expired', 150_000)]);
  assert.equal(idle.status!.conditions!.find((c) => c.type === 'Ready')!.reason, 'IdleTimeout');
  assert.match(idle.status!.message!, /no input or output for 1m/);
  const idleFor = Date.parse(idle.status!.endedAt!) - Date.parse(idle.status!.lastActivityAt!);
  assert.ok(idleFor >= 60_000 && idleFor < 65_000, `ended ${idleFor} ms after the last activity the agent saw`);
  assert.equal(busy.status!.conditions!.find((c) => c.type === 'Ready')!.reason, 'MaxLifetime');
  const lived = Date.parse(busy.status!.endedAt!) - Date.parse(busy.status!.startedAt!);
  assert.ok(lived >= 60_000 && lived < 65_000, `lived ${lived} ms of a 1 min lifetime`);
  assert.ok(Date.parse(busy.status!.lastActivityAt!) - Date.parse(busy.status!.startedAt!) > 50_000, 'the busy shell was active until the end');

  await eventually('pods, Secrets, ServiceAccount, RoleBinding gone', async () => (await leftovers(rig, ns)) === '', 60_000);
  const { stdout } = await kubectl(['get', 'events', '-n', ns, '--field-selector', 'involvedObject.name=idle', '-o', 'custom-columns=REASON:.reason'], { kubeconfig: rig.plane });
  assert.match(stdout, /Expired/);
  await eventually('idle deleted after ttlAfterEnd', async () => (await getSession(rig.plane, ns, 'idle')) === null, 30_000);
  assert.equal((await getSession(rig.plane, ns, 'busy'))?.status?.phase, 'Expired', 'busy is kept (keepAfterEnd), and never restarted');
  assert.equal(await leftovers(rig, ns), '');
});
