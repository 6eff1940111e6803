// crds/terminalsession.yaml on the real control plane (k3s v1.21) with the real kubectl: applied
// as a user would, it serves TerminalSessions with their printer columns, short name and category,
// fills in the defaults, refuses bad specs with the causes the unit tests' model predicts, prunes
// unknown fields; and the rules this version cannot enforce (CEL, 1.25+) are caught by
// celViolations() on the objects the server stored.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { ApiException, CustomObjectsApi, PatchStrategy, setHeaderOptions } from '@kubernetes/client-node';
import { parse } from 'yaml';
import { eventually, kubectl, sharedControlPlane, spawnKubectl, testNamespace, type ControlPlane } from '../../kube/index.js';
import { CRD_NAME, GROUP, PLURAL, VERSION, celViolations, withDefaults, type TerminalSession } from '../../../operator/src/api/index.js';
import { BAD_SPECS } from '../../helpers/terminal-session-specs.js';

const CRD_FILE = fileURLToPath(new URL('../../../crds/terminalsession.yaml', import.meta.url));
const EXAMPLE_FILE = fileURLToPath(new URL('../../../docs/examples/terminalsession.yaml', import.meta.url));
const example = parse(readFileSync(EXAMPLE_FILE, 'utf8')) as TerminalSession;

const MERGE_PATCH = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);

let plane: ControlPlane;
let api: CustomObjectsApi;

before(async () => {
  plane = await sharedControlPlane();
  api = plane.kubeConfig.makeApiClient(CustomObjectsApi);
  // --validate=false: kubectl's client-side validation refuses x-kubernetes-validations against a
  // 1.21 server's schema, and server-side apply fails there too (below). The CRD is shared by every
  // file of the run (the operator's too), so it is applied idempotently and left in place; a
  // concurrent first create can lose the race with AlreadyExists, hence the second try.
  for (let attempt = 1; ; attempt++) {
    const applied = await kubectl(['apply', '--validate=false', '-f', CRD_FILE], { kubeconfig: plane, allowFailure: attempt < 3 });
    if (applied.code === 0) break;
  }
  await kubectl(['wait', '--for=condition=Established', `crd/${CRD_NAME}`, '--timeout=60s'], { kubeconfig: plane });
});

const create = (namespace: string, body: object) => api.createNamespacedCustomObject({ group: GROUP, version: VERSION, namespace, plural: PLURAL, body });
const read = (namespace: string, name: string) => api.getNamespacedCustomObject({ group: GROUP, version: VERSION, namespace, plural: PLURAL, name }) as Promise<TerminalSession>;
const session = (name: string, spec: unknown) => ({ apiVersion: `${GROUP}/${VERSION}`, kind: 'TerminalSession', metadata: { name }, ...(spec === undefined ? {} : { spec }) });

/** The causes of the server's 422 as `field: message`, sorted. */
async function refusal(attempt: Promise<unknown>): Promise<{ message: string; causes: string[] }> {
  const error = await attempt.then(
    () => assert.fail('the server accepted it'),
    (e: unknown) => e,
  );
  assert.ok(error instanceof ApiException, String(error));
  assert.equal(error.code, 422, String(error.body));
  const status = JSON.parse(String(error.body)) as { reason: string; message: string; details: { causes: Array<{ field: string; message: string }> } };
  assert.equal(status.reason, 'Invalid');
  return { message: status.message, causes: status.details.causes.map((c) => `${c.field}: ${c.message}`).sort() };
}

test('on 1.21, kubectl refuses the CRD unless told not to validate, and the server drops its CEL rules', async () => {
  const validated = await kubectl(['apply', '--dry-run=server', '-f', CRD_FILE], { kubeconfig: plane, allowFailure: true });
  assert.notEqual(validated.code, 0);
  assert.match(validated.stderr, /unknown field "x-kubernetes-validations"/);
  const serverSide = await kubectl(['apply', '--server-side', '--validate=false', '--dry-run=server', '-f', CRD_FILE], { kubeconfig: plane, allowFailure: true });
  assert.notEqual(serverSide.code, 0);
  assert.match(serverSide.stderr, /x-kubernetes-validations: field not declared in schema/);
  const stored = JSON.parse((await kubectl(['get', 'crd', CRD_NAME, '-o', 'json'], { kubeconfig: plane })).stdout);
  const { metadata, ...served } = stored;
  assert.ok(metadata.name === CRD_NAME);
  assert.doesNotMatch(JSON.stringify(served.spec), /x-kubernetes-validations/, 'this server keeps no CEL rules');
  assert.equal(served.spec.versions[0].schema.openAPIV3Schema.properties.spec.properties.image.default, 'ghcr.io/cloudterm/cloudterm:0.1.0');
});

test('kubectl: apply the example, get ts (printer columns), describe, explain, -o yaml (defaults), --watch, delete', async (t) => {
  const ns = await testNamespace(t, plane, 'ts');
  const applied = await kubectl(['apply', '-n', ns, '-f', EXAMPLE_FILE], { kubeconfig: plane });
  assert.match(applied.stdout, /terminalsession.cloudterm.io\/alice-dev created/);

  const listed = await kubectl(['get', 'ts', '-n', ns], { kubeconfig: plane });
  assert.match(listed.stdout, /^NAME\s+OWNER\s+PHASE\s+AGE\s+EXPIRES\s+ATTACHED$/m);
  assert.match(listed.stdout, /^alice-dev\s+alice\s+\d+s\s*$/m, 'no status yet: phase, expires and attached are empty');

  // The operator's part, written here by hand: what `get ts` shows of a running session.
  const expiresAt = '2031-01-02T03:04:05Z';
  await api.patchNamespacedCustomObjectStatus(
    {
      group: GROUP, version: VERSION, namespace: ns, plural: PLURAL, name: 'alice-dev',
      body: { status: { phase: 'Running', podName: 'alice-dev-pod', expiresAt, attached: 2, conditions: [{ type: 'Ready', status: 'True', reason: 'Running', message: 'the agent is ready', lastTransitionTime: '2031-01-01T00:00:00Z', observedGeneration: 1 }] } },
    },
    MERGE_PATCH,
  );
  const running = await kubectl(['get', 'ts', '-n', ns], { kubeconfig: plane });
  assert.match(running.stdout, new RegExp(`^alice-dev\\s+alice\\s+Running\\s+\\d+s\\s+${expiresAt}\\s+2$`, 'm'));
  const wide = await kubectl(['get', 'terminalsessions', '-n', ns, '-o', 'wide'], { kubeconfig: plane });
  assert.match(wide.stdout, /^NAME\s+OWNER\s+PHASE\s+AGE\s+EXPIRES\s+ATTACHED\s+REASON\s+POD$/m);
  assert.match(wide.stdout, /\s+Running\s+alice-dev-pod$/m);
  const described = await kubectl(['describe', 'ts', 'alice-dev', '-n', ns], { kubeconfig: plane });
  for (const line of [/^Name:\s+alice-dev$/m, /^Kind:\s+TerminalSession$/m, /^\s+Owner:\s+alice$/m, /^\s+Idle Timeout:\s+30m$/m, /^\s+Phase:\s+Running$/m, /^\s+Reason:\s+Running$/m, /^Events:/m]) {
    assert.match(described.stdout, line);
  }
  const explained = await kubectl(['explain', 'ts.spec.idleTimeout'], { kubeconfig: plane });
  assert.match(explained.stdout, /The session ends after this long without input or output/);
  const category = await kubectl(['get', 'cloudterm', '-n', ns, '-o', 'name'], { kubeconfig: plane });
  assert.equal(category.stdout.trim(), 'terminalsession.cloudterm.io/alice-dev');

  const yaml = parse((await kubectl(['get', 'ts', 'alice-dev', '-n', ns, '-o', 'yaml'], { kubeconfig: plane })).stdout);
  assert.deepEqual(yaml.spec, withDefaults(example.spec), 'the server filled in the same defaults as withDefaults()');
  assert.equal(yaml.spec.image, 'ghcr.io/cloudterm/cloudterm:0.1.0');
  assert.equal(yaml.spec.viewers[0].role, 'ro');
  assert.equal(yaml.spec.ttlAfterEnd, '1h');

  const watcher = await spawnKubectl(['get', 'ts', '-n', ns, '--watch', '-o', 'custom-columns=NAME:.metadata.name,IDLE:.spec.idleTimeout', '--no-headers'], { kubeconfig: plane });
  t.after(() => watcher.kill('SIGKILL'));
  let seen = '';
  watcher.stdout!.setEncoding('utf8').on('data', (chunk: string) => (seen += chunk));
  await eventually('the watch to list alice-dev', async () => (/alice-dev\s+30m/.test(seen) ? true : undefined));
  await kubectl(['patch', 'ts', 'alice-dev', '-n', ns, '--type=merge', '-p', '{"spec":{"idleTimeout":"10m"}}'], { kubeconfig: plane });
  await eventually('kubectl get --watch to see the change', async () => (/alice-dev\s+10m/.test(seen) ? true : undefined));
  watcher.kill('SIGTERM');
  await once(watcher, 'close');

  const deleted = await kubectl(['delete', 'ts', 'alice-dev', '-n', ns], { kubeconfig: plane });
  assert.match(deleted.stdout, /terminalsession.cloudterm.io "alice-dev" deleted/);
  const gone = await kubectl(['get', 'ts', 'alice-dev', '-n', ns], { kubeconfig: plane, allowFailure: true });
  assert.match(gone.stderr, /terminalsessions.cloudterm.io "alice-dev" not found/);
});

test('bad specs are refused by the server with the causes the schema model predicts', async (t) => {
  const ns = await testNamespace(t, plane, 'ts-bad');
  for (const [i, bad] of BAD_SPECS.entries()) {
    const { message, causes } = await refusal(create(ns, session(`bad-${i}`, bad.spec)));
    assert.deepEqual(causes, bad.causes, bad.name);
    assert.match(message, new RegExp(`^TerminalSession.cloudterm.io "bad-${i}" is invalid: `), bad.name);
  }
});

test('kubectl shows a refusal clearly, the field and why', async (t) => {
  const ns = await testNamespace(t, plane, 'ts-kubectl');
  const bad = JSON.stringify(session('bad', { owner: 'alice', idleTimeout: '-5m', viewers: [{ user: 'bob', role: 'admin' }] }));
  const answer = await kubectl(['apply', '-n', ns, '-f', '-'], { kubeconfig: plane, input: bad, allowFailure: true });
  assert.notEqual(answer.code, 0);
  assert.match(answer.stderr, /The TerminalSession "bad" is invalid/);
  assert.match(answer.stderr, /^\* spec\.idleTimeout: Invalid value: "-5m": spec\.idleTimeout in body should match '\^\(\[0-9\]\+h\)\?/m);
  assert.match(answer.stderr, /^\* spec\.viewers\.role: Unsupported value: "admin": supported values: "rw", "ro"$/m);
});

test('unknown fields: kubectl refuses them, and sent anyway they are pruned', async (t) => {
  const ns = await testNamespace(t, plane, 'ts-prune');
  const body = { ...session('extra', { owner: 'alice', privileged: true, size: { cols: 90, depth: 3 }, viewers: [{ user: 'bob', admin: true }] }), topLevel: 1 };
  const checked = await kubectl(['apply', '-n', ns, '-f', '-'], { kubeconfig: plane, input: JSON.stringify(body), allowFailure: true });
  assert.notEqual(checked.code, 0);
  assert.match(checked.stderr, /unknown field "privileged" in io\.cloudterm\.v1alpha1\.TerminalSession\.spec\b/);
  assert.match(checked.stderr, /unknown field "depth" in io\.cloudterm\.v1alpha1\.TerminalSession\.spec\.size\b/);
  await create(ns, body);
  const stored = await read(ns, 'extra');
  assert.deepEqual(stored.spec, withDefaults({ owner: 'alice', size: { cols: 90 }, viewers: [{ user: 'bob' }] }));
  assert.equal((stored as unknown as Record<string, unknown>)['topLevel'], undefined);
});

test('the status subresource refuses a phase that does not exist', async (t) => {
  const ns = await testNamespace(t, plane, 'ts-status');
  await create(ns, session('s', { owner: 'alice' }));
  const { causes } = await refusal(
    api.patchNamespacedCustomObjectStatus(
      { group: GROUP, version: VERSION, namespace: ns, plural: PLURAL, name: 's', body: { status: { phase: 'Crashed', attached: -1 } } },
      MERGE_PATCH,
    ),
  );
  assert.deepEqual(causes, [
    'status.attached: Invalid value: -1: status.attached in body should be greater than or equal to 0',
    'status.phase: Unsupported value: "Crashed": supported values: "Pending", "Running", "Succeeded", "Failed", "Expired"',
  ]);
});

test('what 1.21 cannot enforce (CEL rules) it stores, and celViolations() refuses', async (t) => {
  const ns = await testNamespace(t, plane, 'ts-cel');
  await create(ns, session('idle-too-long', { owner: 'alice', idleTimeout: '2h', maxLifetime: '1h' }));
  assert.deepEqual(
    celViolations(await read(ns, 'idle-too-long')).map((v) => v.message),
    ['spec.idleTimeout must not be longer than spec.maxLifetime'],
  );

  await create(ns, session('owned', { owner: 'alice' }));
  const before = await read(ns, 'owned');
  await kubectl(['patch', 'ts', 'owned', '-n', ns, '--type=merge', '-p', '{"spec":{"owner":"mallory","viewers":[{"user":"eve"}]}}'], { kubeconfig: plane });
  const after = await read(ns, 'owned');
  assert.equal(after.spec.owner, 'mallory', 'the 1.21 server let the owner change');
  assert.deepEqual(celViolations(after, before), [{ field: 'spec.owner', rule: 'self == oldSelf', message: 'spec.owner is immutable' }]);

  const long = 'a'.repeat(51);
  await create(ns, session(long, { owner: 'alice' }));
  assert.match(celViolations(await read(ns, long))[0]?.message ?? '', /^metadata.name must be at most 50 characters/);
});
