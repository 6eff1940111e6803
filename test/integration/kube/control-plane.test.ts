// The control plane fixture against the real k3s: kubectl applies a CRD that then serves its
// resource, watches see changes, the garbage collector follows owner references, and RBAC
// refuses what is not granted (and the audit log shows the refusal).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { ApiException, CoreV1Api, CustomObjectsApi, RbacAuthorizationV1Api } from '@kubernetes/client-node';
import { eventually, kubectl, serviceAccountIdentity, sharedControlPlane, spawnKubectl, testNamespace, userIdentity } from '../../kube/index.js';


function widgetCrd(group: string): string {
  return JSON.stringify({
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: { name: `widgets.${group}` },
    spec: {
      group,
      scope: 'Namespaced',
      names: { plural: 'widgets', singular: 'widget', kind: 'Widget', shortNames: ['wg'] },
      versions: [
        {
          name: 'v1alpha1',
          served: true,
          storage: true,
          additionalPrinterColumns: [{ name: 'Size', type: 'integer', jsonPath: '.spec.size' }],
          schema: {
            openAPIV3Schema: {
              type: 'object',
              properties: { spec: { type: 'object', required: ['size'], properties: { size: { type: 'integer', minimum: 1 } } } },
            },
          },
        },
      ],
    },
  });
}

test('a CRD applied with kubectl serves its resource: create, list, watch, delete', async (t) => {
  const plane = await sharedControlPlane();
  const ns = await testNamespace(t, plane, 'crd');
  const group = `rig-${randomBytes(3).toString('hex')}.example.com`;
  await kubectl(['apply', '-f', '-'], { kubeconfig: plane, input: widgetCrd(group) });
  t.after(() => kubectl(['delete', 'crd', `widgets.${group}`, '--wait=false'], { kubeconfig: plane, allowFailure: true }));
  await kubectl(['wait', '--for=condition=Established', `crd/widgets.${group}`, '--timeout=30s'], { kubeconfig: plane });

  const widget = (size: number) => JSON.stringify({ apiVersion: `${group}/v1alpha1`, kind: 'Widget', metadata: { name: 'w1', namespace: ns }, spec: { size } });
  await kubectl(['apply', '-f', '-'], { kubeconfig: plane, input: widget(1) });
  const listed = await kubectl(['get', `widgets.${group}`, '-n', ns], { kubeconfig: plane });
  assert.match(listed.stdout, /^NAME\s+SIZE$/m, "the CRD's printer column is served");
  assert.match(listed.stdout, /^w1\s+1\s+/m);

  const invalid = await kubectl(['apply', '-f', '-'], { kubeconfig: plane, input: widget(0), allowFailure: true });
  assert.notEqual(invalid.code, 0);
  assert.match(invalid.stderr, /spec\.size.*greater than or equal to 1/);

  const watcher = await spawnKubectl(['get', `widgets.${group}`, '-n', ns, '-w', '-o', 'custom-columns=NAME:.metadata.name,SIZE:.spec.size', '--no-headers'], { kubeconfig: plane });
  t.after(() => watcher.kill('SIGKILL'));
  let seen = '';
  watcher.stdout!.setEncoding('utf8').on('data', (chunk: string) => (seen += chunk));
  await eventually('the watch to list w1', async () => (/w1\s+1/.test(seen) ? true : undefined));
  await kubectl(['patch', `widgets.${group}`, 'w1', '-n', ns, '--type=merge', '-p', '{"spec":{"size":7}}'], { kubeconfig: plane });
  await eventually('kubectl get -w to see the change', async () => (/w1\s+7/.test(seen) ? true : undefined));
  watcher.kill('SIGTERM');
  await once(watcher, 'close');

  await kubectl(['delete', `widgets.${group}`, 'w1', '-n', ns], { kubeconfig: plane });
  const after = await kubectl(['get', `widgets.${group}`, '-n', ns, '-o', 'name'], { kubeconfig: plane });
  assert.equal(after.stdout.trim(), '');
});

test('an object owned by another is garbage-collected when its owner is deleted', async (t) => {
  const plane = await sharedControlPlane();
  const ns = await testNamespace(t, plane, 'gc');
  const core = plane.kubeConfig.makeApiClient(CoreV1Api);
  const owner = await core.createNamespacedConfigMap({ namespace: ns, body: { metadata: { name: 'owner' }, data: { a: '1' } } });
  await core.createNamespacedSecret({
    namespace: ns,
    body: {
      metadata: { name: 'owned', ownerReferences: [{ apiVersion: 'v1', kind: 'ConfigMap', name: 'owner', uid: owner.metadata!.uid! }] },
      stringData: { b: '2' },
    },
  });
  await core.deleteNamespacedConfigMap({ name: 'owner', namespace: ns });
  await eventually('the owned Secret to be collected', () =>
    core.readNamespacedSecret({ name: 'owned', namespace: ns }).then(
      () => undefined,
      (error: unknown) => (error instanceof ApiException && error.code === 404 ? true : undefined),
    ),
  );
});

test('a user with no binding is refused with 403, and the audit log records the refusal', async (t) => {
  const plane = await sharedControlPlane();
  const ns = await testNamespace(t, plane, 'rbac');
  const user = `nobody-${randomBytes(3).toString('hex')}`;
  const nobody = await userIdentity(plane, user, ['team-none']);
  const answer = await kubectl(['get', 'pods', '-n', ns], { kubeconfig: nobody, allowFailure: true });
  assert.notEqual(answer.code, 0);
  assert.match(answer.stderr, new RegExp(`User "${user}" cannot list resource "pods" in API group "" in the namespace "${ns}"`));
  const core = nobody.kubeConfig.makeApiClient(CoreV1Api);
  await assert.rejects(core.listNamespacedSecret({ namespace: ns }), (error: unknown) => error instanceof ApiException && error.code === 403);
  const refusals = await eventually('the refusals in the audit log', async () => {
    const found = plane.auditLog().filter((entry) => entry.user === user && entry.code === 403);
    return found.length >= 2 ? found : undefined;
  });
  assert.deepEqual(
    refusals.map(({ verb, resource, namespace }) => ({ verb, resource, namespace })).slice(0, 2),
    [
      { verb: 'list', resource: 'pods', namespace: ns },
      { verb: 'list', resource: 'secrets', namespace: ns },
    ],
  );
  assert.ok(refusals[0]!.groups.includes('team-none'), 'the certificate\'s O is the user\'s group');
});

test('a ServiceAccount bound to view in one namespace lists pods there and is refused in another', async (t) => {
  const plane = await sharedControlPlane();
  const granted = await testNamespace(t, plane, 'view');
  const other = await testNamespace(t, plane, 'other');
  const core = plane.kubeConfig.makeApiClient(CoreV1Api);
  const rbac = plane.kubeConfig.makeApiClient(RbacAuthorizationV1Api);
  await core.createNamespacedServiceAccount({ namespace: granted, body: { metadata: { name: 'reader' } } });
  await rbac.createNamespacedRoleBinding({
    namespace: granted,
    body: {
      metadata: { name: 'reader-view' },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'view' },
      subjects: [{ kind: 'ServiceAccount', name: 'reader', namespace: granted }],
    },
  });
  const reader = await serviceAccountIdentity(plane, granted, 'reader');
  const there = await kubectl(['get', 'pods', '-n', granted], { kubeconfig: reader, allowFailure: true });
  assert.equal(there.code, 0, there.stderr);
  assert.match(there.stderr, /No resources found/);
  const elsewhere = await kubectl(['get', 'pods', '-n', other], { kubeconfig: reader, allowFailure: true });
  assert.notEqual(elsewhere.code, 0);
  assert.match(elsewhere.stderr, new RegExp(`"system:serviceaccount:${granted}:reader" cannot list resource "pods" in API group "" in the namespace "${other}"`));
  const canI = await kubectl(['auth', 'can-i', 'delete', 'pods', '-n', granted], { kubeconfig: reader, allowFailure: true });
  assert.equal(canI.stdout.trim(), 'no', 'view grants no writes');
});
