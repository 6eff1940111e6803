// The rig kubelet at the scale of a test run and across its own crash: 50 agent pods at once, each
// on its own address; a kubelet killed with SIGKILL and started again adopts what it left running,
// finishes the deletions it missed and leaves no duplicate or orphan behind, nor when it stops.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { ApiException, CoreV1Api, type V1Pod } from '@kubernetes/client-node';
import { generateSigningKeyPair } from '../../../core/src/index.js';
import { agentPod, AGENT_PORT, eventually, podReady, processRunning, sharedControlPlane, startKubelet, testNamespace, waitForPod, type ControlPlane, type KubeletProcess } from '../../kube/index.js';

let plane: ControlPlane;
let core: CoreV1Api;
let keyPem: string;
const cleanups: Array<() => unknown> = [];

before(async () => {
  plane = await sharedControlPlane();
  core = plane.kubeConfig.makeApiClient(CoreV1Api);
  keyPem = (await generateSigningKeyPair()).publicKeyPem;
});

after(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
});

async function setUp(prefix: string): Promise<{ ns: string; kubelet: KubeletProcess }> {
  const kubelet = await startKubelet(plane);
  cleanups.push(() => kubelet.stop());
  const ns = await testNamespace({ after: (fn) => cleanups.push(fn) }, plane, prefix);
  await core.createNamespacedSecret({ namespace: ns, body: { metadata: { name: 'attach-key' }, stringData: { 'public.pem': keyPem } } });
  return { ns, kubelet };
}

async function agentStatus(pod: V1Pod): Promise<{ sessionId: string }> {
  const response = await fetch(`http://${pod.status!.podIP}:${AGENT_PORT}/status`);
  assert.equal(response.status, 200);
  return (await response.json()) as { sessionId: string };
}

/** The agents running for a session, found by their command line: a duplicate would show as two. */
function agentsOf(sessionId: string): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const argv = readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0');
      const at = argv.indexOf('--session-id');
      if (argv.includes('agent') && at >= 0 && argv[at + 1] === sessionId && !['env', 'unshare'].includes(argv[0]!) && !argv[0]!.endsWith('setpriv') && processRunning(Number(entry))) {
        pids.push(Number(entry));
      }
    } catch {
      // gone while we looked
    }
  }
  return pids;
}

const isGone = (name: string, ns: string) => () =>
  core.readNamespacedPod({ name, namespace: ns }).then(
    () => undefined,
    (error: unknown) => (error instanceof ApiException && error.code === 404 ? true : undefined),
  );

test('50 pods at once each get their own address, and every agent answers on it', async () => {
  const { ns, kubelet } = await setUp('fifty');
  const names = Array.from({ length: 50 }, (_, index) => `agent-${index}`);
  await Promise.all(names.map((name) => core.createNamespacedPod({ namespace: ns, body: agentPod({ name, sessionId: `s-${name}`, keySecret: 'attach-key', nodeName: kubelet.nodeName }) })));
  const pods = await Promise.all(names.map((name) => waitForPod(plane, ns, name, 'Ready', podReady, 120_000)));
  const addresses = new Set(pods.map((pod) => pod.status!.podIP));
  assert.equal(addresses.size, 50, 'fifty distinct pod IPs');
  const answers = await Promise.all(pods.map(agentStatus));
  assert.deepEqual(answers.map((answer) => answer.sessionId), names.map((name) => `s-${name}`), 'each address is its own pod\'s agent');
  await core.deleteCollectionNamespacedPod({ namespace: ns });
  await eventually('every agent to stop', () => (names.every((name) => agentsOf(`s-${name}`).length === 0) ? true : undefined), 60_000, 250);
});

test('the kubelet killed and started again adopts its pods, finishes missed deletions, leaves no orphan', async () => {
  const { ns, kubelet } = await setUp('adopt');
  for (const name of ['kept', 'deleted', 'forced']) {
    await core.createNamespacedPod({ namespace: ns, body: agentPod({ name, sessionId: `s-${ns}-${name}`, keySecret: 'attach-key', nodeName: kubelet.nodeName }) });
  }
  const kept = await waitForPod(plane, ns, 'kept', 'Ready', podReady);
  await waitForPod(plane, ns, 'deleted', 'Ready', podReady);
  await waitForPod(plane, ns, 'forced', 'Ready', podReady);
  const [keptPid] = agentsOf(`s-${ns}-kept`);
  assert.ok(keptPid, 'the kept pod\'s agent runs');

  await kubelet.kill();
  // While no kubelet runs: a graceful delete stays pending, a forced one removes the pod outright.
  await core.deleteNamespacedPod({ name: 'deleted', namespace: ns });
  await core.deleteNamespacedPod({ name: 'forced', namespace: ns, gracePeriodSeconds: 0 });
  assert.equal(agentsOf(`s-${ns}-deleted`).length, 1, 'nothing stops a pod while its kubelet is down');
  assert.equal(agentsOf(`s-${ns}-forced`).length, 1);

  await kubelet.restart();
  await eventually('the pending deletion to finish', isGone('deleted', ns));
  await eventually('the forced pod\'s orphaned agent to be stopped', () => (agentsOf(`s-${ns}-forced`).length === 0 ? true : undefined));
  assert.equal(agentsOf(`s-${ns}-deleted`).length, 0);
  const after = await waitForPod(plane, ns, 'kept', 'Ready again', podReady);
  assert.deepEqual(agentsOf(`s-${ns}-kept`), [keptPid], 'the same agent, adopted: no duplicate');
  assert.equal(after.status!.podIP, kept.status!.podIP, 'the pod keeps its address');
  assert.equal(after.status!.containerStatuses![0]!.restartCount, 0);
  assert.equal((await agentStatus(after)).sessionId, `s-${ns}-kept`);
  assert.match(kubelet.log(), /Adopted container/);

  // Stopped (SIGTERM), it ends the processes of its pods, adopted ones included, before it exits.
  await kubelet.stop();
  assert.deepEqual(agentsOf(`s-${ns}-kept`), [], 'no agent outlives the kubelet that stopped');
});

test('light mode runs no process: 100 pods go Running with an address each, and deletes finish at once', async () => {
  const kubelet = await startKubelet(plane, { light: true, maxPods: 1000 });
  cleanups.push(() => kubelet.stop());
  const ns = await testNamespace({ after: (fn) => cleanups.push(fn) }, plane, 'light');
  const names = Array.from({ length: 100 }, (_, index) => `light-${index}`);
  await Promise.all(
    names.map((name) =>
      core.createNamespacedPod({
        namespace: ns,
        body: { metadata: { name }, spec: { nodeName: kubelet.nodeName, automountServiceAccountToken: false, containers: [{ name: 'app', image: 'registry.example/anything:1' }] } },
      }),
    ),
  );
  const running = await eventually('100 pods Running and Ready', async () => {
    const list = await core.listNamespacedPod({ namespace: ns });
    return list.items.length === 100 && list.items.every((pod) => pod.status?.phase === 'Running' && podReady(pod)) ? list.items : undefined;
  }, 60_000, 250);
  assert.equal(new Set(running.map((pod) => pod.status!.podIP)).size, 100);
  assert.ok(running.every((pod) => /^127\.1\.\d+\.\d+$/.test(pod.status!.podIP!)), 'light pods take addresses no real pod uses');
  await core.deleteCollectionNamespacedPod({ namespace: ns });
  await eventually('every pod to be removed', async () => ((await core.listNamespacedPod({ namespace: ns })).items.length === 0 ? true : undefined), 30_000, 250);
});
