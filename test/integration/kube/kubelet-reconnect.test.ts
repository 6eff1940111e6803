// The control plane killed and started again on the same data directory: the kubelet reconnects
// on its own (its watch resumes or relists, its Node and Lease go on) and keeps running its pods.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { CoordinationV1Api, CoreV1Api } from '@kubernetes/client-node';
import { generateSigningKeyPair } from '../../../core/src/index.js';
import { agentPod, eventually, podReady, startControlPlane, startKubelet, testNamespace, waitForPod, type ControlPlane, type KubeletProcess } from '../../kube/index.js';

let plane: ControlPlane;
let kubelet: KubeletProcess;
const cleanups: Array<() => unknown> = [];

before(async () => {
  plane = await startControlPlane();
  kubelet = await startKubelet(plane);
});

after(async () => {
  for (const cleanup of cleanups) await cleanup();
  await kubelet?.stop();
  await plane?.stop();
});

test('the control plane killed and restarted on its data directory: the kubelet reconnects and goes on', async () => {
  const core = plane.kubeConfig.makeApiClient(CoreV1Api);
  const ns = await testNamespace({ after: (fn) => cleanups.push(fn) }, plane, 'reconnect');
  await core.createNamespacedSecret({ namespace: ns, body: { metadata: { name: 'attach-key' }, stringData: { 'public.pem': (await generateSigningKeyPair()).publicKeyPem } } });
  await core.createNamespacedPod({ namespace: ns, body: agentPod({ name: 'before', sessionId: 's-before', keySecret: 'attach-key', nodeName: kubelet.nodeName }) });
  const before = await waitForPod(plane, ns, 'before', 'Ready', podReady);

  await plane.kill();
  await new Promise((resolve) => setTimeout(resolve, 2_000));
  await plane.restart();

  const coreAgain = plane.kubeConfig.makeApiClient(CoreV1Api);
  await coreAgain.createNamespacedPod({ namespace: ns, body: agentPod({ name: 'after', sessionId: 's-after', keySecret: 'attach-key', nodeName: kubelet.nodeName }) });
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
