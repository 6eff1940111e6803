// The kubelet and an API server it loses: the control plane killed and started again on the same
// data directory, a watch connection cut, and a watch whose version the restarted server no longer
// has (410 Gone). The kubelet reaches the server through a proxy the tests cut, so that pods can
// change while it cannot see them; it must catch up with what changed and keep running its pods.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { ApiException, CoordinationV1Api, CoreV1Api, type V1Pod } from '@kubernetes/client-node';
import { generateSigningKeyPair } from '../../../core/src/index.js';
import { cuttableProxy, type CuttableProxy } from '../../helpers/cuttable-proxy.js';
import { agentPod, AGENT_PORT, eventually, kubeconfigVia, podReady, processRunning, startControlPlane, startKubelet, testNamespace, waitForPod, type ControlPlane, type KubeletProcess } from '../../kube/index.js';

let plane: ControlPlane;
let proxy: CuttableProxy;
let kubelet: KubeletProcess;
let ns: string;
const cleanups: Array<() => unknown> = [];

before(async () => {
  plane = await startControlPlane();
  proxy = await cuttableProxy(new URL(plane.server));
  const kubeconfigPath = await kubeconfigVia(plane.kubeconfigPath, proxy.url, join(plane.dir, 'via-proxy.kubeconfig'));
  kubelet = await startKubelet(plane, { kubeconfigPath });
  ns = await testNamespace({ after: (fn) => cleanups.push(fn) }, plane, 'reconnect');
  const core = plane.kubeConfig.makeApiClient(CoreV1Api);
  await core.createNamespacedSecret({ namespace: ns, body: { metadata: { name: 'attach-key' }, stringData: { 'public.pem': (await generateSigningKeyPair()).publicKeyPem } } });
});

after(async () => {
  for (const cleanup of cleanups) await cleanup();
  await kubelet?.stop();
  await proxy?.close();
  await plane?.stop();
});

/** A client made after the last restart (the plane's kubeconfig is read again by restart()). */
const api = () => plane.kubeConfig.makeApiClient(CoreV1Api);

async function createAgent(name: string): Promise<void> {
  await api().createNamespacedPod({ namespace: ns, body: agentPod({ name, sessionId: `s-${name}`, keySecret: 'attach-key', nodeName: kubelet.nodeName }) });
}

async function sessionAt(pod: V1Pod): Promise<string> {
  const response = await fetch(`http://${pod.status!.podIP}:${AGENT_PORT}/status`);
  return ((await response.json()) as { sessionId: string }).sessionId;
}

const podGone = (name: string) => () =>
  api().readNamespacedPod({ name, namespace: ns }).then(
    () => undefined,
    (error: unknown) => (error instanceof ApiException && error.code === 404 ? true : undefined),
  );

/** Log lines of the kubelet that match, from `since` (a length of its log) on. */
const logged = (pattern: RegExp, since = 0) => kubelet.log().slice(since).split('\n').filter((line) => pattern.test(line));

test('the control plane killed and restarted on its data directory: the kubelet reconnects and goes on', async () => {
  await createAgent('before');
  const before = await waitForPod(plane, ns, 'before', 'Ready', podReady);

  await plane.kill();
  await new Promise((resolve) => setTimeout(resolve, 2_000));
  await plane.restart();

  await createAgent('after');
  await waitForPod(plane, ns, 'after', 'Ready (the kubelet watches again)', podReady, 60_000);
  const still = await waitForPod(plane, ns, 'before', 'still Ready', podReady);
  assert.equal(still.status!.podIP, before.status!.podIP);
  assert.equal(still.status!.containerStatuses![0]!.restartCount, 0, 'the first agent was not restarted');
  assert.match(kubelet.log(), /Pod watch broke; resuming/, 'the kubelet saw its watch cut and resumed it');
  const restartedAt = Date.now();
  const coordination = plane.kubeConfig.makeApiClient(CoordinationV1Api);
  await eventually('the node lease to be renewed after the restart', async () => {
    const lease = await coordination.readNamespacedLease({ name: kubelet.nodeName, namespace: 'kube-node-lease' });
    return new Date(lease.spec!.renewTime!).getTime() > restartedAt ? true : undefined;
  }, 20_000, 500);
});

test('a cut watch resumes where it was: a pod created and one deleted while it was cut are both handled, without a relist', async () => {
  await createAgent('cut-doomed');
  const doomed = await waitForPod(plane, ns, 'cut-doomed', 'Ready', podReady);
  const doomedPid = kubelet.pidOf(doomed.metadata!.uid!, 'agent')!;
  const logFrom = kubelet.log().length;

  proxy.cut(Infinity);
  await createAgent('cut-newcomer');
  await api().deleteNamespacedPod({ name: 'cut-doomed', namespace: ns });
  await new Promise((resolve) => setTimeout(resolve, 1_500));
  assert.equal((await api().readNamespacedPod({ name: 'cut-newcomer', namespace: ns })).status?.podIP, undefined, 'the kubelet did not see the new pod while cut off');
  assert.ok(processRunning(doomedPid), 'nor the deletion');
  proxy.restore();

  const newcomer = await waitForPod(plane, ns, 'cut-newcomer', 'Ready once the kubelet is back', podReady, 30_000);
  assert.equal(await sessionAt(newcomer), 's-cut-newcomer', 'its agent answers on its pod IP');
  await eventually('the deleted pod\'s agent to stop', () => (processRunning(doomedPid) ? undefined : true), 20_000, 100);
  await eventually('the deleted pod to be removed', podGone('cut-doomed'), 20_000);
  assert.ok(logged(/Pod watch broke; resuming/, logFrom).length > 0, 'the kubelet saw its watch break');
  assert.deepEqual(logged(/"msg":"Listed pods"/, logFrom), [], 'the watch resumed from its version: no relist');
});

test('a watch from a version the restarted server no longer has gets 410 Gone: the kubelet relists, runs the pod created and stops the one deleted meanwhile', async () => {
  await createAgent('gone-forgotten');
  const forgotten = await waitForPod(plane, ns, 'gone-forgotten', 'Ready', podReady);
  const forgottenPid = kubelet.pidOf(forgotten.metadata!.uid!, 'agent')!;
  const forgottenDir = join(kubelet.stateDir, 'pods', forgotten.metadata!.uid!);
  const logFrom = kubelet.log().length;

  // While the kubelet cannot see the server: a pod appears, another is deleted with grace 0 (gone
  // from the API at once: only a relist can tell the kubelet), and the API server restarts. Its
  // watch cache then starts at the current version, so the kubelet's last one is too old.
  proxy.cut(Infinity);
  await createAgent('gone-latecomer');
  await api().deleteNamespacedPod({ name: 'gone-forgotten', namespace: ns, gracePeriodSeconds: 0 });
  await eventually('the forced delete', podGone('gone-forgotten'));
  await plane.kill();
  await plane.restart();
  proxy.restore();

  const latecomer = await waitForPod(plane, ns, 'gone-latecomer', 'Ready once the kubelet has relisted', podReady, 60_000);
  assert.equal(await sessionAt(latecomer), 's-gone-latecomer', 'its agent answers on its pod IP');
  await eventually('the deleted pod\'s agent to stop', () => (processRunning(forgottenPid) ? undefined : true), 20_000, 100);
  await eventually('the deleted pod\'s folder to be removed', () => (existsSync(forgottenDir) ? undefined : true), 20_000, 100);
  const expired = logged(/Pod watch expired \(410 Gone\); listing again/, logFrom);
  assert.ok(expired.length > 0, 'the server answered the kubelet\'s watch with 410 Gone');
  assert.match(expired[0]!, /too old resource version/, 'the Status the server sent');
  assert.ok(logged(/"msg":"Listed pods"/, logFrom).length > 0, 'and the kubelet listed its pods again');
});
