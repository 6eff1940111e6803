// The rig kubelet runs a terminal pod as a real agent: it answers an attach on its pod IP, sees
// its Secret at the mount path, runs as the pod's user with a read-only root, and its pod's status
// follows the process (a crash makes it Failed; a delete stops it within its grace period).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { ApiException, AuthenticationV1Api, CoreV1Api, PatchStrategy, setHeaderOptions, type V1Pod } from '@kubernetes/client-node';
import { Redis } from 'ioredis';
import { readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateSigningKeyPair, signAttachToken } from '../../../core/src/index.js';
import { TestClient } from '../../helpers/agent-client.js';
import { agentPod, AGENT_PORT, KEY_MOUNT } from '../../kube/agent-pod.js';
import { eventually, podReady, processRunning, sharedControlPlane, sharedKubelet, startKubelet, testNamespace, waitForPod, type ControlPlane, type KubeletProcess } from '../../kube/index.js';

let plane: ControlPlane;
let kubelet: KubeletProcess;
let core: CoreV1Api;
let ns: string;
let keys: Awaited<ReturnType<typeof generateSigningKeyPair>>;
/** Run after every test of the file (a hook's own `after` would run when the hook ends). */
const cleanups: Array<() => unknown> = [];

before(async () => {
  plane = await sharedControlPlane();
  kubelet = await startKubelet(plane);
  core = plane.kubeConfig.makeApiClient(CoreV1Api);
  ns = await testNamespace({ after: (fn) => cleanups.push(fn) }, plane, 'kubelet');
  keys = await generateSigningKeyPair();
  await core.createNamespacedSecret({ namespace: ns, body: { metadata: { name: 'attach-key' }, stringData: { 'public.pem': keys.publicKeyPem } } });
});

after(async () => {
  for (const cleanup of cleanups) await cleanup();
  await kubelet?.stop();
});

async function runAgentPod(name: string, extra: Partial<Parameters<typeof agentPod>[0]> = {}): Promise<V1Pod> {
  await core.createNamespacedPod({ namespace: ns, body: agentPod({ name, sessionId: `s-${name}`, keySecret: 'attach-key', nodeName: kubelet.nodeName, ...extra }) });
  return waitForPod(plane, ns, name, 'Ready', podReady);
}

async function attach(pod: V1Pod, sessionId: string): Promise<TestClient> {
  const token = await signAttachToken(keys.privateKey, { sessionId, user: 'alice', role: 'rw' });
  return TestClient.connect({ url: `ws://${pod.status!.podIP}:${AGENT_PORT}/attach`, headers: { authorization: `Bearer ${token}` } });
}

const gone = async (pid: number) => !processRunning(pid);

test('a pod runs a real agent that answers an attach on its pod IP: echo hello comes back', async (t) => {
  const pod = await runAgentPod('hello');
  assert.match(pod.status!.podIP!, /^127\.0\.\d+\.\d+$/);
  assert.equal(pod.status!.phase, 'Running');
  const client = await attach(pod, 's-hello');
  t.after(() => client.close());
  client.type('echo hel""lo\n');
  await client.waitForText('hello');

  await t.test('its Secret volume is readable at the mount path, and nothing else is writable', async () => {
    // The quotes keep the typed line (echoed back) from matching what the commands print.
    client.type(`cat ${KEY_MOUNT}/public.pem; echo "uid=$(id -u) groups=$(id -G)"; touch /rig-probe || echo ROOT-IS-READ""-ONLY\n`);
    await client.waitForText('ROOT-IS-READ-ONLY');
    assert.ok(client.text().includes(keys.publicKeyPem.trim().split('\n')[1]!), 'the file holds the Secret\'s key');
    assert.match(client.text(), /uid=1000 groups=1000 2000/);
  });
});

test('killing the agent\'s process makes the pod Failed with its exit code and reason', async () => {
  const pod = await runAgentPod('crash');
  const pid = kubelet.pidOf(pod.metadata!.uid!, 'agent');
  assert.ok(pid, 'the kubelet knows the agent\'s PID');
  process.kill(pid, 'SIGKILL');
  const failed = await waitForPod(plane, ns, 'crash', 'Failed', (p) => p.status?.phase === 'Failed');
  const terminated = failed.status!.containerStatuses![0]!.state!.terminated!;
  assert.equal(terminated.exitCode, 137);
  assert.equal(terminated.reason, 'Error');
  assert.equal(failed.status!.containerStatuses![0]!.ready, false);
  assert.equal(podReady(failed), false);
});

test('deleting a pod stops its process within the grace period, then the pod is removed', async () => {
  // A program that ignores SIGTERM: only the SIGKILL at the end of the grace period stops it.
  const pod = await runAgentPod('stubborn', { command: ['/bin/sh', '-c', "trap '' TERM HUP; while :; do sleep 0.2; done"], terminationGracePeriodSeconds: 2 });
  const pid = kubelet.pidOf(pod.metadata!.uid!, 'agent')!;
  const started = Date.now();
  await core.deleteNamespacedPod({ name: 'stubborn', namespace: ns });
  // The process outlives SIGTERM until the grace period ends, then SIGKILL stops it; the pod goes
  // once its final status is written. The bounds leave room for a loaded machine (CI runs two test
  // files beside the control plane), not for a kubelet that forgets the kill.
  await new Promise((resolve) => setTimeout(resolve, 1_500));
  assert.ok(!(await gone(pid)), 'the process still runs before its grace period ends');
  await eventually('the agent process to be killed', async () => ((await gone(pid)) ? true : undefined), 10_000, 50);
  const killedAfter = Date.now() - started;
  await eventually('the pod to be removed', () =>
    core.readNamespacedPod({ name: 'stubborn', namespace: ns }).then(
      () => undefined,
      (error: unknown) => (error instanceof ApiException && error.code === 404 ? true : undefined),
    ),
  );
  const removedAfter = Date.now() - started;
  assert.ok(killedAfter >= 2_000 && killedAfter < 2_000 + 4_000, `killed ${killedAfter} ms after the delete (grace 2 s)`);
  assert.ok(removedAfter < 2_000 + 10_000, `removed ${removedAfter} ms after the delete (killed after ${killedAfter} ms)`);

  const polite = await runAgentPod('polite');
  const politePid = kubelet.pidOf(polite.metadata!.uid!, 'agent')!;
  const politeStart = Date.now();
  await core.deleteNamespacedPod({ name: 'polite', namespace: ns });
  await eventually('the polite agent to exit', async () => ((await gone(politePid)) ? true : undefined));
  assert.ok(Date.now() - politeStart < 2_000, 'an agent that honours SIGTERM stops well before its grace period ends');
});

test('an image the rig does not know leaves the pod Pending in ErrImagePull, then ImagePullBackOff', async () => {
  await core.createNamespacedPod({
    namespace: ns,
    body: { metadata: { name: 'unknown-image' }, spec: { nodeName: kubelet.nodeName, automountServiceAccountToken: false, containers: [{ name: 'app', image: 'registry.example/app:1.0' }] } },
  });
  const pulling = await waitForPod(plane, ns, 'unknown-image', 'ErrImagePull', (p) => p.status?.containerStatuses?.[0]?.state?.waiting?.reason === 'ErrImagePull');
  assert.equal(pulling.status!.phase, 'Pending');
  assert.match(pulling.status!.containerStatuses![0]!.state!.waiting!.message!, /registry\.example\/app:1\.0/);
  await waitForPod(plane, ns, 'unknown-image', 'ImagePullBackOff', (p) => p.status?.containerStatuses?.[0]?.state?.waiting?.reason === 'ImagePullBackOff');
});

test('the Redis image runs as the local redis-server on its pod IP', async (t) => {
  await core.createNamespacedPod({
    namespace: ns,
    body: {
      metadata: { name: 'redis' },
      spec: {
        nodeName: kubelet.nodeName,
        automountServiceAccountToken: false,
        securityContext: { runAsUser: 999, runAsGroup: 999 },
        containers: [
          {
            name: 'redis',
            image: 'docker.io/library/redis:7.2',
            args: ['--save', '', '--appendonly', 'no'],
            ports: [{ name: 'redis', containerPort: 6379 }],
            readinessProbe: { tcpSocket: { port: 'redis' }, periodSeconds: 1 },
          },
        ],
      },
    },
  });
  const pod = await waitForPod(plane, ns, 'redis', 'Ready', podReady);
  const redis = new Redis({ host: pod.status!.podIP!, port: 6379, lazyConnect: true, maxRetriesPerRequest: 1 });
  t.after(() => redis.disconnect());
  await redis.connect();
  assert.equal(await redis.ping(), 'PONG');
  await core.deleteNamespacedPod({ name: 'redis', namespace: ns });
});

test('the real scheduler binds a pod to the run\'s shared kubelet, which runs it', async () => {
  const shared = await sharedKubelet(plane);
  await core.createNamespacedPod({ namespace: ns, body: agentPod({ name: 'scheduled', sessionId: 's-scheduled', keySecret: 'attach-key' }) });
  const pod = await waitForPod(plane, ns, 'scheduled', 'Ready', podReady);
  assert.equal(pod.spec!.nodeName, shared.nodeName, 'the private kubelets\' taints keep the scheduler away from them');
  assert.ok(pod.status!.conditions!.some((condition) => condition.type === 'PodScheduled' && condition.status === 'True'));
  const client = await attach(pod, 's-scheduled');
  client.type('echo sched""uled\n');
  await client.waitForText('scheduled');
  await client.close();
  await core.deleteNamespacedPod({ name: 'scheduled', namespace: ns });
});

test('a pod\'s ServiceAccount token, CA and namespace are projected where in-cluster clients look for them', async (t) => {
  const body = agentPod({ name: 'in-cluster', sessionId: 's-in-cluster', keySecret: 'attach-key', nodeName: kubelet.nodeName });
  body.spec!.automountServiceAccountToken = true;
  await core.createNamespacedPod({ namespace: ns, body });
  const pod = await waitForPod(plane, ns, 'in-cluster', 'Ready', podReady);
  const client = await attach(pod, 's-in-cluster');
  t.after(() => client.close());
  const dir = '/var/run/secrets/kubernetes.io/serviceaccount';
  client.type(`echo "ns=$(cat ${dir}/namespace) api=$KUBERNETES_SERVICE_HOST:$KUBERNETES_SERVICE_PORT"; grep -c CERTIFICATE ${dir}/ca.crt; echo "tok""en=$(cat ${dir}/token)"\n`);
  await client.waitFor(() => /token=\S+/.test(client.text()), 'the token');
  assert.match(client.text(), new RegExp(`ns=${ns} api=127\\.0\\.0\\.1:${plane.port}`));
  const token = /token=(\S+)/.exec(client.text())![1]!;
  const review = await plane.kubeConfig.makeApiClient(AuthenticationV1Api).createTokenReview({ body: { spec: { token } } });
  assert.equal(review.status?.authenticated, true, 'the API server accepts the projected token');
  assert.equal(review.status?.user?.username, `system:serviceaccount:${ns}:default`);
  assert.equal(review.status?.user?.extra?.['authentication.kubernetes.io/pod-name']?.[0], 'in-cluster', 'the token is bound to the pod');
});

test('restartPolicy Always restarts a crashed agent: restartCount and lastState say so, and it is Ready again', async () => {
  const pod = await runAgentPod('restarts', { restartPolicy: 'Always' });
  const first = kubelet.pidOf(pod.metadata!.uid!, 'agent')!;
  process.kill(first, 'SIGKILL');
  const again = await waitForPod(plane, ns, 'restarts', 'restarted and Ready', (p) => (p.status?.containerStatuses?.[0]?.restartCount ?? 0) === 1 && podReady(p));
  const status = again.status!.containerStatuses![0]!;
  assert.equal(status.lastState?.terminated?.exitCode, 137);
  assert.equal(again.status!.phase, 'Running');
  const second = kubelet.pidOf(pod.metadata!.uid!, 'agent');
  assert.ok(second && second !== first && processRunning(second), 'a new agent process runs');
  assert.equal(again.status!.podIP, pod.status!.podIP, 'on the same pod IP');
});

test('a Secret changed after the pod started is seen at its mount path, and no other pod\'s folder is', async (t) => {
  const pod = await runAgentPod('refresh');
  const client = await attach(pod, 's-refresh');
  t.after(() => client.close());
  await core.patchNamespacedSecret(
    { name: 'attach-key', namespace: ns, body: { stringData: { note: 'rotated-42' } } },
    setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
  );
  // The kubelet looks at its pods' Secrets every 5 s, as a kubelet's sync period does (every minute there).
  await eventually('the new key in the volume', async () => {
    client.type(`cat ${KEY_MOUNT}/note 2>/dev/null | tr 0-9 A-J; echo\n`);
    await new Promise((resolve) => setTimeout(resolve, 500));
    return client.text().includes('rotated-EC') ? true : undefined;
  }, 20_000, 500);
  // Another pod's folder exists on the machine, but not inside this pod's mount namespace.
  const other = (await core.readNamespacedPod({ name: 'restarts', namespace: ns })).metadata!.uid!;
  const otherDir = join(kubelet.stateDir, 'pods', other);
  assert.ok(readdirSync(otherDir).length > 0, 'the other pod\'s folder is there on the machine');
  client.type(`test -e ${otherDir} || echo "NO OTHER ""POD"\n`);
  await client.waitForText('NO OTHER POD');
});

test('a container whose sandbox cannot be set up fails with StartError and the reason', async () => {
  const body = agentPod({ name: 'bad-mount', sessionId: 's-bad-mount', keySecret: 'attach-key', nodeName: kubelet.nodeName, extraVolumes: [{ name: 'scratch', emptyDir: {} }] });
  // A folder cannot be bind-mounted over a file.
  body.spec!.containers[0]!.volumeMounts!.push({ name: 'scratch', mountPath: '/etc/hostname' });
  await core.createNamespacedPod({ namespace: ns, body });
  const failed = await waitForPod(plane, ns, 'bad-mount', 'Failed', (p) => p.status?.phase === 'Failed');
  const terminated = failed.status!.containerStatuses![0]!.state!.terminated!;
  assert.equal(terminated.reason, 'StartError');
  assert.equal(terminated.exitCode, 128);
  assert.match(terminated.message ?? '', /mount/i);
});

test('a pod with an emptyDir at /tmp (the kubelet\'s state under /tmp too) is stopped, reported and restarted as any other', async (t) => {
  // As a terminal pod mounts it: /tmp first, then the key Secret (whose files the kubelet keeps
  // under /tmp), and HOME in a volume (the rig's default HOME is in the pod's folder, also under /tmp).
  assert.ok(kubelet.stateDir.startsWith(`${tmpdir()}/`), `the kubelet keeps its state under ${tmpdir()}: ${kubelet.stateDir}`);
  const body = agentPod({ name: 'tmp-mount', sessionId: 's-tmp-mount', keySecret: 'attach-key', nodeName: kubelet.nodeName, restartPolicy: 'Always', extraVolumes: [{ name: 'tmp', emptyDir: {} }] });
  body.spec!.containers[0]!.volumeMounts!.unshift({ name: 'tmp', mountPath: '/tmp' });
  body.spec!.containers[0]!.env!.push({ name: 'HOME', value: '/tmp' });
  await core.createNamespacedPod({ namespace: ns, body });
  const pod = await waitForPod(plane, ns, 'tmp-mount', 'Ready', podReady);
  const uid = pod.metadata!.uid!;
  const client = await attach(pod, 's-tmp-mount');
  t.after(() => client.close());
  client.type('echo in-the-pod > /tmp/probe && ls /tmp && echo TMP""-WRITTEN\n');
  await client.waitForText('TMP-WRITTEN');
  assert.equal(readFileSync(join(kubelet.stateDir, 'pods', uid, 'volumes', 'tmp', 'probe'), 'utf8'), 'in-the-pod\n', '/tmp is the pod\'s emptyDir');
  assert.doesNotMatch(client.text(), /cloudterm-kubelet-/, 'the kubelet\'s folder is not in the pod\'s /tmp');

  // SIGTERM: the agent ends its shell and exits 0, which only the shim's exit file can tell (a
  // lost one reads as 137); the kubelet must find the program's PID to send it, and restart it.
  const first = kubelet.pidOf(uid, 'agent');
  assert.ok(first && processRunning(first), 'the kubelet knows the agent\'s PID');
  process.kill(first, 'SIGTERM');
  const again = await waitForPod(plane, ns, 'tmp-mount', 'restarted and Ready', (p) => (p.status?.containerStatuses?.[0]?.restartCount ?? 0) === 1 && podReady(p));
  const lastState = again.status!.containerStatuses![0]!.lastState!.terminated!;
  assert.deepEqual({ exitCode: lastState.exitCode, reason: lastState.reason }, { exitCode: 0, reason: 'Completed' });
  const second = kubelet.pidOf(uid, 'agent');
  assert.ok(second && second !== first && processRunning(second), 'a new agent process runs');
  assert.equal(readFileSync(join(kubelet.stateDir, 'pods', uid, 'volumes', 'tmp', 'probe'), 'utf8'), 'in-the-pod\n', 'the emptyDir outlives the restart');

  const deleted = Date.now();
  await core.deleteNamespacedPod({ name: 'tmp-mount', namespace: ns });
  await eventually('the agent to stop', async () => ((await gone(second)) ? true : undefined), 15_000, 50);
  assert.ok(Date.now() - deleted < 8_000, 'stopped by its SIGTERM, well before the 10 s grace period ends');
  await eventually('the pod to be removed', () =>
    core.readNamespacedPod({ name: 'tmp-mount', namespace: ns }).then(
      () => undefined,
      (error: unknown) => (error instanceof ApiException && error.code === 404 ? true : undefined),
    ),
  );
});
