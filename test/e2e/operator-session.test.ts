// End to end on the rig: `kubectl apply` a TerminalSession → the operator's pod → a real agent
// run by the rig kubelet → a WebSocket attach with a token signed by the gateway's key → `echo
// hello` → delete → nothing left. Then the shell's cluster rights, for real, from inside it.
import { test } from 'node:test';
import { chmod, copyFile, mkdir } from 'node:fs/promises';
import assert from 'node:assert/strict';
import type { V1Pod } from '@kubernetes/client-node';
import { signAttachToken } from '../../core/src/index.js';
import { TestClient } from '../helpers/agent-client.js';
import { kubectl, kubeTools, processRunning, spawnKubectl, testNamespace } from '../kube/index.js';
import { applySession, eventually, getJson, getSession, operatorKubelet, operatorRig, pinTo, runOperator, tenantNamespace, type OperatorRig } from '../helpers/operator-fixture.js';
import type { TerminalSession } from '../../operator/src/api/index.js';

async function running(rig: OperatorRig, ns: string, name: string): Promise<TerminalSession> {
  return eventually(`${name} Running`, async () => {
    const session = await getSession(rig.plane, ns, name);
    return session?.status?.phase === 'Running' && session.status.endpoint ? session : undefined;
  }, 60_000).catch(async (error: Error) => {
    const pod = await getJson<V1Pod>(rig.plane, ['pod', `cloudterm-${name}`, '-n', ns]);
    const session = await getSession(rig.plane, ns, name);
    throw new Error(`${error.message}\nsession status: ${JSON.stringify(session?.status)}\npod status: ${JSON.stringify(pod?.status)}`);
  });
}

async function attach(rig: OperatorRig, session: TerminalSession): Promise<TestClient> {
  const token = await signAttachToken(rig.privateKey, { sessionId: session.metadata.uid!, user: session.spec.owner, role: 'rw' });
  return TestClient.connect({ url: `${session.status!.endpoint!.replace(/^http/, 'ws')}/attach`, headers: { authorization: `Bearer ${token}` } });
}

const leftovers = async (rig: OperatorRig, ns: string) =>
  (await kubectl(['get', 'pods,secrets,serviceaccounts,rolebindings', '-n', ns, '-l', 'app.kubernetes.io/managed-by=cloudterm-operator', '-o', 'name'], { kubeconfig: rig.plane })).stdout.trim();

test('apply → pod → attach with a gateway-signed token → echo hello → delete leaves nothing', async (t) => {
  const rig = await operatorRig(t);
  const kubelet = await operatorKubelet(rig.plane);
  const ns = await tenantNamespace(t, rig);
  await runOperator(t, rig, pinTo(kubelet));
  await applySession(rig.plane, ns, 'hello', { env: [{ name: 'PS1', value: '$ ' }] });
  const session = await running(rig, ns, 'hello');
  assert.match(session.status!.endpoint!, /^http:\/\/127\.0\.\d+\.\d+:7681$/);
  assert.equal(session.status!.conditions!.find((c) => c.type === 'Ready')!.status, 'True');

  const client = await attach(rig, session);
  t.after(() => client.close());
  client.type('echo hel""lo\n');
  await client.waitForText('hello');

  const { stdout: table } = await kubectl(['get', 'ts', '-n', ns], { kubeconfig: rig.plane });
  assert.match(table, /hello\s+alice\s+Running/);
  const described = await eventually('the Started event', async () => {
    const { stdout } = await kubectl(['describe', 'ts', 'hello', '-n', ns], { kubeconfig: rig.plane });
    return /Started/.test(stdout) && stdout;
  });
  assert.match(described, /Created pod cloudterm-hello/);
  await eventually('attached: 1 in status', async () => (await getSession(rig.plane, ns, 'hello'))?.status?.attached === 1);

  const pod = (await getJson<V1Pod>(rig.plane, ['pod', 'cloudterm-hello', '-n', ns]))!;
  const pid = kubelet.pidOf(pod.metadata!.uid!, 'terminal');
  assert.ok(pid && processRunning(pid), 'the agent runs as a real process');
  await kubectl(['delete', 'ts', 'hello', '-n', ns, '--timeout=60s'], { kubeconfig: rig.plane });
  await eventually('pod, Secret gone', async () => (await leftovers(rig, ns)) === '', 60_000);
  await eventually('the agent process gone', async () => !processRunning(pid!), 30_000);
});

test("access: view in its namespace — kubectl inside the shell lists pods there and gets 403 elsewhere; no access, no token", async (t) => {
  const rig = await operatorRig(t);
  const kubelet = await operatorKubelet(rig.plane);
  const ns = await tenantNamespace(t, rig);
  const other = await testNamespace(t, rig.plane, 'other');
  // The shell's user cannot read root's cache: a copy it may run, outside the pod's own /tmp.
  await mkdir('/var/tmp/cloudterm-operator-tests', { recursive: true });
  const kubectlPath = '/var/tmp/cloudterm-operator-tests/kubectl';
  await copyFile((await kubeTools()).kubectl, kubectlPath);
  await chmod(kubectlPath, 0o755);
  await runOperator(t, rig, pinTo(kubelet));
  await applySession(rig.plane, ns, 'viewer', { access: { role: { kind: 'ClusterRole', name: 'view' } }, env: [{ name: 'PS1', value: '$ ' }] });
  await applySession(rig.plane, ns, 'plain', { env: [{ name: 'PS1', value: '$ ' }] });

  const viewer = await attach(rig, await running(rig, ns, 'viewer'));
  t.after(() => viewer.close());
  viewer.type(`${kubectlPath} --cache-dir /tmp/kc get pods -o name && echo LIST""-OK\n`);
  await viewer.waitForText('LIST-OK', 30_000);
  assert.match(viewer.text(), /pod\/cloudterm-viewer/);
  viewer.type(`${kubectlPath} --cache-dir /tmp/kc get pods -n ${other} 2>&1; echo OTHER""-DONE\n`);
  await viewer.waitForText('OTHER-DONE', 30_000);
  assert.match(viewer.text(), /Forbidden|forbidden/);
  assert.match(viewer.text(), new RegExp(`cannot list resource "pods" in API group "" in the namespace "${other}"`));
  viewer.type(`${kubectlPath} --cache-dir /tmp/kc auth can-i create pods; echo CANI""-DONE\n`);
  await viewer.waitForText('CANI-DONE', 30_000);
  assert.match(viewer.text(), /\bno\b/);

  const plain = await attach(rig, await running(rig, ns, 'plain'));
  t.after(() => plain.close());
  plain.type('echo "kubeconfig=[$KUBECONFIG]"; for f in /var/run/cloudterm/kube/token /var/run/secrets/kubernetes.io/serviceaccount/token; do test -e $f && echo "FOUND"":$f"; done; echo PLAIN""-DONE\n');
  await plain.waitForText('PLAIN-DONE', 30_000);
  assert.match(plain.text(), /kubeconfig=\[\]/);
  assert.doesNotMatch(plain.text(), /FOUND:/, 'no ServiceAccount token anywhere in the pod');
});

test('the docs example with the real kubectl: apply, get --watch through Running, printer columns, -o yaml, describe, delete', async (t) => {
  const rig = await operatorRig(t);
  const kubelet = await operatorKubelet(rig.plane);
  const ns = await tenantNamespace(t, rig);
  await runOperator(t, rig, pinTo(kubelet));
  const watch = await spawnKubectl(['get', 'ts', '-n', ns, '--watch'], { kubeconfig: rig.plane });
  t.after(() => watch.kill());
  let watched = '';
  watch.stdout!.on('data', (chunk: Buffer) => (watched += chunk));

  await kubectl(['apply', '-n', ns, '-f', new URL('../../docs/examples/terminalsession.yaml', import.meta.url).pathname], { kubeconfig: rig.plane });
  await running(rig, ns, 'alice-dev');
  await eventually('--watch to show Running', async () => /alice-dev\s+alice\s+Running/.test(watched));
  // Before it runs, its PHASE is empty (a start is first reported when the agent answers, or as
  // Pending after 10 s: docs/operator.md), then Running.
  assert.match(watched, /^alice-dev\s+alice\s+(?:<none>\s+|Pending\s+)?\d+s\s/m, 'the watch saw it before it ran');

  const { stdout: table } = await kubectl(['get', 'ts', '-n', ns], { kubeconfig: rig.plane });
  assert.match(table, /^NAME\s+OWNER\s+PHASE\s+AGE\s+EXPIRES\s+ATTACHED/);
  assert.match(table, /alice-dev\s+alice\s+Running\s+\S+\s+\d{4}-\d\d-\d\dT\S+\s+0/);
  const { stdout: wide } = await kubectl(['get', 'ts', '-n', ns, '-o', 'wide'], { kubeconfig: rig.plane });
  assert.match(wide, /Running\s+cloudterm-alice-dev/);
  const { stdout: yaml } = await kubectl(['get', 'ts', 'alice-dev', '-n', ns, '-o', 'yaml'], { kubeconfig: rig.plane });
  assert.match(yaml, /phase: Running/);
  assert.match(yaml, /endpoint: http:\/\/127\.0\.\d+\.\d+:7681/);
  assert.match(yaml, /observedGeneration: 1/);
  const { stdout: described } = await kubectl(['describe', 'ts', 'alice-dev', '-n', ns], { kubeconfig: rig.plane });
  assert.match(described, /Normal\s+Created\s+\S+\s+cloudterm-operator\s+Created pod cloudterm-alice-dev/);
  await kubectl(['delete', '-n', ns, '-f', new URL('../../docs/examples/terminalsession.yaml', import.meta.url).pathname, '--timeout=60s'], { kubeconfig: rig.plane });
  await eventually('nothing left', async () => (await leftovers(rig, ns)) === '', 60_000);
});
