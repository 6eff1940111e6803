// What a TerminalSession gets, computed by the pure functions: the pod's lock-down, the access
// objects only when asked, deterministic names, and the kubeconfig that holds no credential.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { session } from './session-fixture.js';
import { startedSpecOf } from '../../../operator/src/api/index.js';
import { desiredPod, podResources, ATTACH_KEY_PATH } from '../../../operator/src/desired/pod.js';
import { type GrantableRole, desiredRoleBinding, desiredServiceAccount, desiredTerminalConfig, isGrantable, parseGrantableRoles, terminalConfigMatches, shellKubeconfig, TERMINAL_CONFIG_MAP, SHELL_KUBECONFIG } from '../../../operator/src/desired/access.js';
import { childNames, controllingSession, sessionLabelValue } from '../../../operator/src/desired/names.js';

const settings = { agentPort: 7681, runAsUser: 1000, runAsGroup: 1000, tokenExpirationSeconds: 600, nodeSelector: {}, tolerateTaints: {} };

test('the pod is locked down: non-root, no escalation, no capabilities, seccomp, read-only root, no token', () => {
  const pod = desiredPod(session(), settings);
  const container = pod.spec!.containers[0]!;
  assert.equal(pod.spec!.automountServiceAccountToken, false);
  assert.equal(pod.spec!.serviceAccountName, undefined);
  assert.equal(pod.spec!.restartPolicy, 'Never');
  assert.equal(pod.spec!.securityContext!.runAsNonRoot, true);
  assert.deepEqual(pod.spec!.securityContext!.seccompProfile, { type: 'RuntimeDefault' });
  assert.deepEqual(container.securityContext, {
    runAsNonRoot: true, runAsUser: 1000, runAsGroup: 1000, allowPrivilegeEscalation: false, privileged: false,
    readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] }, seccompProfile: { type: 'RuntimeDefault' },
  });
  const mounts = Object.fromEntries(container.volumeMounts!.map((m) => [m.mountPath, m]));
  assert.ok(mounts['/home/cloudterm'] && !mounts['/home/cloudterm'].readOnly, 'a writable home');
  assert.ok(mounts['/tmp'] && !mounts['/tmp'].readOnly, 'a writable /tmp');
  assert.equal(mounts['/etc/cloudterm/attach']?.readOnly, true);
  assert.equal(pod.spec!.volumes!.find((v) => v.name === 'attach-key')!.configMap!.name, 'cloudterm-terminal', "the namespace's ConfigMap");
  assert.equal(pod.spec!.volumes!.some((v) => v.projected), false, 'no token volume without access');
  assert.equal(container.env!.some((e) => e.name === 'KUBECONFIG'), false);
});

test('dedicated nodes: a node selector and tolerated taints when configured, none otherwise', () => {
  assert.equal(desiredPod(session(), settings).spec!.nodeSelector, undefined);
  assert.equal(desiredPod(session(), settings).spec!.tolerations, undefined);
  const pinned = desiredPod(session(), { ...settings, nodeSelector: { pool: 'terminals' }, tolerateTaints: { dedicated: 'terminals' } });
  assert.deepEqual(pinned.spec!.nodeSelector, { pool: 'terminals' });
  assert.deepEqual(pinned.spec!.tolerations, [{ key: 'dedicated', operator: 'Equal', value: 'terminals', effect: 'NoSchedule' }]);
});

test('the pod records the spec it started with, for the immutability rules on servers before 1.25', () => {
  const s = session({ owner: 'alice' });
  assert.deepEqual(startedSpecOf(desiredPod(s, settings).metadata!.annotations), s.spec);
});

test('the agent listens on the pod IP from the downward API and is probed on /status', () => {
  const pod = desiredPod(session({ command: ['/bin/bash'], args: ['-l'], workingDir: '/tmp' }), settings);
  const container = pod.spec!.containers[0]!;
  assert.deepEqual(container.command, ['cloudterm', 'agent']);
  assert.deepEqual(container.args, [
    '--listen', '$(POD_IP):7681', '--session-id', 'uid-1', '--public-key-file', ATTACH_KEY_PATH,
    '--cols', '100', '--rows', '30', '--cwd', '/tmp', '--', '/bin/bash', '-l',
  ]);
  assert.deepEqual(container.env![0], { name: 'POD_IP', valueFrom: { fieldRef: { apiVersion: 'v1', fieldPath: 'status.podIP' } } });
  assert.deepEqual(container.readinessProbe!.httpGet, { path: '/status', port: 'agent' });
  assert.deepEqual(container.ports, [{ name: 'agent', containerPort: 7681, protocol: 'TCP' }]);
});

test('resources: the defaults fill in what the session leaves out, value by value', () => {
  const table = [
    { given: undefined, want: { requests: { cpu: '50m', memory: '24Mi' }, limits: { memory: '256Mi' } } },
    { given: { limits: { memory: '1Gi' } }, want: { requests: { cpu: '50m', memory: '24Mi' }, limits: { memory: '1Gi' } } },
    { given: { requests: { cpu: '1' }, limits: { cpu: '2' } }, want: { requests: { cpu: '1', memory: '24Mi' }, limits: { memory: '256Mi', cpu: '2' } } },
  ];
  for (const { given, want } of table) assert.deepEqual(podResources(given), want, JSON.stringify(given));
});

test("the user's env cannot replace the pod's own variables", () => {
  const pod = desiredPod(session({ env: [{ name: 'POD_IP', value: '1.2.3.4' }, { name: 'EDITOR', value: 'vi' }] }), settings);
  const env = pod.spec!.containers[0]!.env!;
  assert.equal(env.filter((e) => e.name === 'POD_IP').length, 1);
  assert.ok(env.some((e) => e.name === 'EDITOR' && e.value === 'vi'));
});

test('access: a ServiceAccount, a RoleBinding in the namespace, a projected short-lived token and KUBECONFIG', () => {
  const s = session({ access: { role: { kind: 'ClusterRole', name: 'view' } } });
  const pod = desiredPod(s, settings);
  assert.equal(pod.spec!.serviceAccountName, 'cloudterm-alice-1');
  assert.equal(pod.spec!.automountServiceAccountToken, false);
  const projected = pod.spec!.volumes!.find((v) => v.name === 'kube')!.projected!;
  assert.deepEqual(projected.sources![0], { serviceAccountToken: { path: 'token', expirationSeconds: 600 } });
  assert.deepEqual(projected.sources![2], { configMap: { name: 'cloudterm-terminal', items: [{ key: 'kubeconfig', path: 'config' }] } });
  assert.ok(pod.spec!.containers[0]!.env!.some((e) => e.name === 'KUBECONFIG' && e.value === SHELL_KUBECONFIG));

  const binding = desiredRoleBinding(s, s.spec.access!.role);
  assert.equal(binding.kind, 'RoleBinding');
  assert.equal(binding.metadata!.namespace, 'team-a');
  assert.deepEqual(binding.roleRef, { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'view' });
  assert.deepEqual(binding.subjects, [{ kind: 'ServiceAccount', name: 'cloudterm-alice-1', namespace: 'team-a' }]);
  assert.equal(desiredServiceAccount(s).automountServiceAccountToken, false);

  const config = JSON.parse(shellKubeconfig('team-a', 'https://kubernetes.default.svc'));
  assert.equal(config.contexts[0].context.namespace, 'team-a');
  assert.equal(config.users[0].user.tokenFile, '/var/run/cloudterm/kube/token');
  assert.deepEqual(Object.keys(config.users[0].user), ['tokenFile'], 'no credential in the kubeconfig itself');
});

test('one ConfigMap per namespace holds the public key and the kubeconfig, owned by no session; matching is exact', () => {
  const config = desiredTerminalConfig('team-a', 'PEM', 'https://k');
  assert.equal(config.metadata!.name, TERMINAL_CONFIG_MAP);
  assert.equal(config.metadata!.namespace, 'team-a');
  assert.equal(config.metadata!.ownerReferences, undefined, 'it outlives any one session');
  assert.equal(config.metadata!.labels!['app.kubernetes.io/managed-by'], 'cloudterm-operator');
  assert.deepEqual(Object.keys(config.data!).sort(), ['attach-public-key.pem', 'kubeconfig']);
  assert.equal(JSON.parse(config.data!.kubeconfig!).contexts[0].context.namespace, 'team-a');
  assert.equal(terminalConfigMatches({ data: { ...config.data } }, config), true);
  assert.equal(terminalConfigMatches({ data: { ...config.data, 'attach-public-key.pem': 'OLD' } }, config), false);
  assert.equal(terminalConfigMatches({ data: { ...config.data, extra: 'x' } }, config), false);
  assert.equal(terminalConfigMatches({ data: { ...config.data }, binaryData: { x: 'eA==' } }, config), false);
});

test('grantable roles: parsed from the configuration, matched by kind and name', () => {
  assert.deepEqual(parseGrantableRoles('ClusterRole/view, Role/deployer'), [{ kind: 'ClusterRole', name: 'view' }, { kind: 'Role', name: 'deployer' }]);
  assert.deepEqual(parseGrantableRoles(''), []);
  assert.match(parseGrantableRoles('view') as string, /not Role\/<name> or ClusterRole\/<name>/);
  const roles = parseGrantableRoles('ClusterRole/view') as GrantableRole[];
  assert.equal(isGrantable({ kind: 'ClusterRole', name: 'view' }, roles), true);
  assert.equal(isGrantable({ kind: 'Role', name: 'view' }, roles), false);
  assert.equal(isGrantable({ kind: 'ClusterRole', name: 'admin' }, roles), false);
});

test('names are deterministic, valid for long session names, and children point back at their owner', () => {
  assert.equal(childNames(session()).pod, 'cloudterm-alice-1');
  assert.deepEqual(childNames(session()), childNames(session()));
  const long = 'a'.repeat(253);
  const names = childNames(session({}, long));
  assert.ok(names.pod.length <= 253);
  assert.notEqual(names.pod, childNames(session({}, `${'a'.repeat(252)}b`)).pod);
  assert.ok(sessionLabelValue(long).length <= 63);
  const pod = desiredPod(session(), settings);
  assert.deepEqual(pod.metadata!.ownerReferences, [{ apiVersion: 'cloudterm.io/v1alpha1', kind: 'TerminalSession', name: 'alice-1', uid: 'uid-1', controller: true, blockOwnerDeletion: true }]);
  assert.equal(controllingSession(pod as never), 'team-a/alice-1');
  assert.equal(controllingSession({ metadata: { namespace: 'x', ownerReferences: [] } }), null);
});
