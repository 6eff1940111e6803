// Several replicas, one acts: the Lease decides, a crashed leader is replaced within the lease
// time, a stopped one hands over at once; and an operator killed in the middle of its work,
// restarted, converges with exactly one pod per session.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { kubectl } from '../../kube/index.js';
import { applySession, eventually, leaseHolder, operatorRig, spawnOperator, tenantNamespace } from '../../helpers/operator-fixture.js';

const metric = async (address: string, name: string): Promise<number> => {
  const text = await (await fetch(`http://${address}/metrics`)).text();
  return [...text.matchAll(new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)$`, 'gm'))].reduce((sum, m) => sum + Number(m[1]), 0);
};

const podNames = async (plane: Parameters<typeof kubectl>[1]['kubeconfig'], ns: string) =>
  (await kubectl(['get', 'pods', '-n', ns, '-l', 'app.kubernetes.io/managed-by=cloudterm-operator', '-o', 'name'], { kubeconfig: plane })).stdout.split('\n').filter(Boolean);

test('two replicas: only the leader reconciles; a killed leader is replaced within the lease time; SIGTERM releases at once', async (t) => {
  const rig = await operatorRig(t);
  const ns = await tenantNamespace(t, rig);
  const a = await spawnOperator(t, rig);
  await eventually('a to lead', async () => (await leaseHolder(rig)) === a.identity);
  const b = await spawnOperator(t, rig);
  await eventually('b ready', async () => (await fetch(`http://${b.address}/readyz`)).status === 200);

  await applySession(rig.plane, ns, 'one');
  await eventually('the pod of one', async () => (await podNames(rig.plane, ns)).length === 1);
  assert.equal(await metric(a.address, 'cloudterm_operator_leader'), 1);
  assert.equal(await metric(b.address, 'cloudterm_operator_leader'), 0);
  assert.ok((await metric(a.address, 'cloudterm_operator_reconciles_total')) > 0);
  assert.equal(await metric(b.address, 'cloudterm_operator_reconciles_total'), 0, 'the follower does not act');

  // A crash: the Lease is not released; b takes over once it expires (4 s here).
  const killedAt = Date.now();
  await a.kill();
  await eventually('b to lead', async () => (await leaseHolder(rig)) === b.identity, 15_000);
  const takeover = Date.now() - killedAt;
  assert.ok(takeover < 4000 + 4000, `took over in ${takeover} ms (lease 4 s)`);
  await applySession(rig.plane, ns, 'two');
  await eventually('the pod of two, made by b', async () => (await podNames(rig.plane, ns)).length === 2);

  // A graceful stop releases the Lease: the next replica leads without waiting for it to expire.
  const c = await spawnOperator(t, rig);
  const stoppedAt = Date.now();
  assert.equal(await b.stop(), 0);
  assert.match(b.output(), /Released the Lease/);
  await eventually('c to lead', async () => (await leaseHolder(rig)) === c.identity, 15_000);
  assert.ok(Date.now() - stoppedAt < 4000, `handed over in ${Date.now() - stoppedAt} ms`);
});

test('an operator killed mid-reconcile and restarted converges with one pod per session', async (t) => {
  const rig = await operatorRig(t);
  const ns = await tenantNamespace(t, rig);
  const sessions = Array.from({ length: 40 }, (_, i) => `s${i}`);
  const first = await spawnOperator(t, rig, ['--concurrency', '1']);
  await eventually('first to lead', async () => (await leaseHolder(rig)) === first.identity);
  const manifest = sessions.map((name) => JSON.stringify({ apiVersion: 'cloudterm.io/v1alpha1', kind: 'TerminalSession', metadata: { name, namespace: ns }, spec: { owner: 'alice', access: { role: { kind: 'ClusterRole', name: 'view' } } } })).join('\n');
  await kubectl(['apply', '-f', '-'], { kubeconfig: rig.plane, input: manifest });
  // Killed while it is creating children.
  await eventually('some pods', async () => (await podNames(rig.plane, ns)).length >= 1, 30_000, 20);
  await first.kill();
  const made = (await podNames(rig.plane, ns)).length;
  assert.ok(made < sessions.length, `killed mid-way (${made} of ${sessions.length} pods made)`);

  await spawnOperator(t, rig, ['--concurrency', '4']);
  await eventually('every session has its pod', async () => (await podNames(rig.plane, ns)).length === sessions.length, 60_000);
  const pods = await podNames(rig.plane, ns);
  assert.deepEqual(pods.sort(), sessions.map((s) => `pod/cloudterm-${s}`).sort(), 'exactly one pod per session');
  const { stdout } = await kubectl(['get', 'serviceaccounts,rolebindings,configmaps', '-n', ns, '-l', 'app.kubernetes.io/managed-by=cloudterm-operator', '-o', 'name'], { kubeconfig: rig.plane });
  assert.equal(stdout.split('\n').filter(Boolean).length, sessions.length * 2 + 1, "each session's ServiceAccount and RoleBinding, the namespace's ConfigMap");
  await eventually('every status names its pod', async () => {
    const { stdout: names } = await kubectl(['get', 'ts', '-n', ns, '-o', 'jsonpath={.items[*].status.podName}'], { kubeconfig: rig.plane });
    return names.split(' ').filter(Boolean).length === sessions.length;
  });
});
