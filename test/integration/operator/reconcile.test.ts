// The operator against the real control plane (k3s 1.21, the real garbage collector, kubectl
// 1.31), running with only the rights operator/rbac/ documents: what `kubectl apply` of a
// TerminalSession makes, what a spec the schema cannot refuse ends in, and what deletion leaves.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import type { V1ConfigMap, V1Pod, V1RoleBinding } from '@kubernetes/client-node';
import { kubectl, testNamespace } from '../../kube/index.js';
import { applySession, eventually, getJson, getSession, operatorRig, readyReason, runOperator, tenantNamespace } from '../../helpers/operator-fixture.js';

test('apply makes the pod, ServiceAccount and RoleBinding, owned by the session, and the namespace its key ConfigMap; delete removes what the session owned', async (t) => {
  const rig = await operatorRig(t);
  const ns = await tenantNamespace(t, rig);
  await runOperator(t, rig);
  await applySession(rig.plane, ns, 'dev', { access: { role: { kind: 'ClusterRole', name: 'view' } } });

  const pod = await eventually('the pod', () => getJson<V1Pod>(rig.plane, ['pod', 'cloudterm-dev', '-n', ns]));
  const session = (await getSession(rig.plane, ns, 'dev'))!;
  for (const [kind, name] of [['pod', 'cloudterm-dev'], ['serviceaccount', 'cloudterm-dev'], ['rolebinding', 'cloudterm-dev']] as const) {
    const child = await eventually(`${kind}/${name}`, () => getJson<{ metadata: { ownerReferences?: Array<{ uid: string; controller?: boolean }> } }>(rig.plane, [kind, name, '-n', ns]));
    assert.deepEqual(child.metadata.ownerReferences?.map((o) => [o.uid, o.controller]), [[session.metadata.uid, true]], `${kind} is owned by the session`);
  }
  const config = await eventually('the ConfigMap', () => getJson<V1ConfigMap>(rig.plane, ['configmap', 'cloudterm-terminal', '-n', ns]));
  assert.equal(config.data!['attach-public-key.pem'], await readFile(rig.publicKeyFile, 'utf8'), "the gateway's public key");
  assert.equal(config.metadata!.ownerReferences, undefined, "the namespace's, not one session's");
  assert.equal(await getJson(rig.plane, ['secret', 'cloudterm-dev', '-n', ns]), null, 'no Secret per session');
  assert.equal(pod.spec!.serviceAccountName, 'cloudterm-dev');
  assert.equal(pod.spec!.automountServiceAccountToken, false);
  assert.equal(pod.spec!.containers[0]!.securityContext!.readOnlyRootFilesystem, true);
  const binding = (await getJson<V1RoleBinding>(rig.plane, ['rolebinding', 'cloudterm-dev', '-n', ns]))!;
  assert.deepEqual(binding.roleRef, { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'view' });
  const { stdout: clusterBindings } = await kubectl(['get', 'clusterrolebindings', '-l', 'app.kubernetes.io/managed-by=cloudterm-operator', '-o', 'name'], { kubeconfig: rig.plane });
  assert.equal(clusterBindings.trim(), '', 'never a ClusterRoleBinding');

  const status = await eventually('status.podName', async () => (await getSession(rig.plane, ns, 'dev'))?.status);
  assert.equal(status.podName, 'cloudterm-dev');
  assert.equal(status.phase, 'Pending');
  assert.equal(status.observedGeneration, 1);
  const described = await eventually('the Created event', async () => {
    const { stdout } = await kubectl(['describe', 'ts', 'dev', '-n', ns], { kubeconfig: rig.plane });
    return /Created\s+pod cloudterm-dev|Created pod cloudterm-dev/.test(stdout) && stdout;
  });
  assert.match(described, /cloudterm-operator/);

  await kubectl(['delete', 'ts', 'dev', '-n', ns, '--timeout=60s'], { kubeconfig: rig.plane });
  await eventually('every child gone', async () => {
    const { stdout } = await kubectl(['get', 'pods,secrets,serviceaccounts,rolebindings', '-n', ns, '-l', 'app.kubernetes.io/managed-by=cloudterm-operator', '-o', 'name'], { kubeconfig: rig.plane });
    return stdout.trim() === '';
  }, 60_000);
  assert.ok(await getJson(rig.plane, ['configmap', 'cloudterm-terminal', '-n', ns]), 'the ConfigMap stays for the next session, like kube-root-ca.crt');
});

test('what the schema cannot refuse ends in a Ready=False condition with a clear reason, and no pod', async (t) => {
  const rig = await operatorRig(t);
  const enabled = await tenantNamespace(t, rig);
  const disabled = await tenantNamespace(t, rig, false);
  const operator = await runOperator(t, rig);
  await applySession(rig.plane, enabled, 'admin-wanted', { access: { role: { kind: 'ClusterRole', name: 'admin' } } });
  await applySession(rig.plane, enabled, 'no-role', { access: { role: { kind: 'ClusterRole', name: 'view' } } });
  await applySession(rig.plane, enabled, 'lopsided', { idleTimeout: '2h', maxLifetime: '1h' });
  await applySession(rig.plane, disabled, 'elsewhere');

  assert.equal(await eventually('RoleNotGrantable', async () => (await readyReason(rig.plane, enabled, 'admin-wanted')) === 'RoleNotGrantable' || undefined), true);
  assert.equal(await eventually('Invalid', async () => (await readyReason(rig.plane, enabled, 'lopsided')) === 'Invalid' || undefined), true);
  assert.equal(await eventually('NamespaceNotEnabled', async () => (await readyReason(rig.plane, disabled, 'elsewhere')) === 'NamespaceNotEnabled' || undefined), true);
  const invalid = (await getSession(rig.plane, enabled, 'lopsided'))!;
  assert.match(invalid.status!.message!, /idleTimeout/);
  assert.match((await getSession(rig.plane, enabled, 'admin-wanted'))!.status!.message!, /ClusterRole\/admin is not a role terminals may be granted/);
  const { stdout: pods } = await kubectl(['get', 'pods', '-n', enabled, '-o', 'name'], { kubeconfig: rig.plane });
  assert.doesNotMatch(pods, /admin-wanted|lopsided/);

  // Not retried in a hot loop: a few seconds later the operator has reconciled them a handful of
  // times — while the pod of a session another installation serves changes all the while (its
  // churn is watched, one cluster-wide watch, but is not work for this one).
  const foreign = await testNamespace(t, rig.plane, 'foreign');
  await kubectl(['label', 'namespace', foreign, 'cloudterm.io/test-rig=another-installation', 'cloudterm.io/terminals=enabled'], { kubeconfig: rig.plane });
  await applySession(rig.plane, foreign, 'theirs'); // a real owner, or the garbage collector would take the pod
  const theirs = (await getSession(rig.plane, foreign, 'theirs'))!;
  const foreignPod = {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name: 'cloudterm-theirs',
      namespace: foreign,
      labels: { 'app.kubernetes.io/managed-by': 'cloudterm-operator' },
      ownerReferences: [{ apiVersion: 'cloudterm.io/v1alpha1', kind: 'TerminalSession', name: 'theirs', uid: theirs.metadata.uid!, controller: true }],
    },
    spec: { nodeSelector: { 'cloudterm.io/no-such-node': 'true' }, containers: [{ name: 'agent', image: 'cloudterm/agent:rig' }] },
  };
  await kubectl(['apply', '-f', '-'], { kubeconfig: rig.plane, input: JSON.stringify(foreignPod) });
  const before = operator.metrics.registry.render();
  for (let i = 0; i < 20; i++) {
    await kubectl(['annotate', '--overwrite', 'pod', 'cloudterm-theirs', '-n', foreign, `churn=${i}`], { kubeconfig: rig.plane });
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  const count = (text: string) => [...text.matchAll(/^cloudterm_operator_reconciles_total\{result="[a-z]+"\} (\d+)/gm)].reduce((sum, m) => sum + Number(m[1]), 0);
  assert.ok(count(operator.metrics.registry.render()) - count(before) < 10, `reconciles while 20 foreign changes came: ${count(operator.metrics.registry.render()) - count(before)}`);

  // Enabling the namespace is enough: its session starts without being touched.
  await kubectl(['label', 'namespace', disabled, 'cloudterm.io/terminals=enabled'], { kubeconfig: rig.plane });
  await eventually('the pod in the newly enabled namespace', () => getJson<V1Pod>(rig.plane, ['pod', 'cloudterm-elsewhere', '-n', disabled]));
  assert.ok(await getJson(rig.plane, ['pod', 'cloudterm-no-role', '-n', enabled]) ?? (await eventually('the pod of no-role', () => getJson<V1Pod>(rig.plane, ['pod', 'cloudterm-no-role', '-n', enabled]))));
});

test('an owner changed after the start (1.21 does not enforce the immutability rule) ends the session as Invalid', async (t) => {
  const rig = await operatorRig(t);
  const ns = await tenantNamespace(t, rig);
  await runOperator(t, rig);
  await applySession(rig.plane, ns, 'mine');
  await eventually('the pod', () => getJson<V1Pod>(rig.plane, ['pod', 'cloudterm-mine', '-n', ns]));
  await kubectl(['patch', 'ts', 'mine', '-n', ns, '--type', 'merge', '-p', '{"spec":{"owner":"mallory"}}'], { kubeconfig: rig.plane });
  const ended = await eventually('Failed, Invalid', async () => {
    const session = await getSession(rig.plane, ns, 'mine');
    return session?.status?.phase === 'Failed' ? session : undefined;
  });
  assert.equal(ended.status!.conditions!.find((c) => c.type === 'Ready')!.reason, 'Invalid');
  assert.match(ended.status!.message!, /spec\.owner/);
  await eventually('its pod gone', async () => (await getJson(rig.plane, ['pod', 'cloudterm-mine', '-n', ns])) === null);
});
