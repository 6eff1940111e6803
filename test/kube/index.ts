// The Kubernetes test rig: a real control plane (k3s v1.21: kube-apiserver, controller manager
// with the garbage collector, scheduler) and, beside it, the fake kubelet that runs pods as real
// processes. See docs/kube-rig.md.
//
// Use in a test file:
//
//   import { sharedControlPlane, testNamespace, userIdentity, kubectl } from '../kube/index.js';
//
//   test('…', async (t) => {
//     const plane = await sharedControlPlane();      // one k3s for the whole `npm test` run
//     const ns = await testNamespace(t, plane);      // fresh namespace, deleted in t.after
//     const api = plane.kubeConfig.makeApiClient(CoreV1Api);   // cluster admin, HTTPS + CA
//     await kubectl(['apply', '-f', '-'], { kubeconfig: plane, input: manifest });
//     const alice = await userIdentity(plane, 'alice', ['team-a']);   // 403s come from RBAC
//     await kubectl(['get', 'pods', '-n', ns], { kubeconfig: alice, allowFailure: true });
//     plane.auditLog().filter((e) => e.user === 'alice' && e.code === 403);
//   });
//
// - sharedControlPlane(): never stop it. Under test/run.mjs it is started by the first file that
//   asks and stopped by the runner at the end; a file run directly starts its own and stops it
//   when the process exits. Its first start costs ~13 s.
// - startControlPlane({dataDir?}): one of your own (restart tests: kill() / restart() keep its
//   data directory and port); call stop() in `after`.
// - No k3s (CLOUDTERM_K3S, `k3s` on the PATH, or ../shared/kube/k3s.xz): it rejects with a
//   RigSetupError that says what to install. Tests must let it fail, never skip.
// - testNamespace(t, plane) deletes in `t.after`; from a `before` hook pass your own list
//   ({ after: (fn) => cleanups.push(fn) }) and run it in the file's `after` (a hook's own `after`
//   runs as soon as the hook ends).
// - Pods need a kubelet: sharedKubelet(plane) is the run's (node `rig-shared`, untainted: the
//   scheduler sends it any pod, e.g. the operator's); startKubelet(plane, {light?}) is one of your
//   own (tainted: pin pods with spec.nodeName; kill()/restart() for crash tests). Both run
//   CloudTerm's image as the built `cloudterm` (npm run build first; `npm test` does), each pod on
//   its own 127.0.N.x address: containers should listen on $(POD_IP) (downward API).
// - withKeepAlive(kubeConfig): reuse connections (client-node 1.4 opens one per request).
export { ControlPlane, startControlPlane, type ControlPlaneOptions, type ControlPlaneState } from './control-plane.js';
export { sharedControlPlane } from './shared-control-plane.js';
export { testNamespace, type AfterHook } from './namespace.js';
export { userIdentity, serviceAccountIdentity, type Identity, type TokenOptions } from './identities.js';
export { kubectl, helm, spawnKubectl, type KubeconfigRef, type ToolOptions, type ToolResult } from './kube-tools.js';
export { k3sBinary, kubeTools, RigSetupError, type KubeTools } from './binaries.js';
export type { AuditEntry } from './audit-log.js';
export { freePort, freePortPair } from './free-port.js';
export { eventually, waitForPod, podReady, processRunning } from './wait.js';
export { startKubelet, sharedKubelet, KubeletProcess, type KubeletStartOptions, type KubeletState } from './kubelet-process.js';
export { withKeepAlive } from './kubelet/keep-alive.js';
export { kubeconfigVia } from './kubeconfig-via.js';
export { agentPod, AGENT_PORT, KEY_MOUNT, type AgentPodOptions } from './agent-pod.js';
