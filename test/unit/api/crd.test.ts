// crds/terminalsession.yaml against what the code says about it: the generated schema module is
// what the generator writes from it now, and the names, defaults, phases and reasons the operator
// and gateway use are the CRD's.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { CRD_PATH, GENERATED_PATH, renderSchemaModule } from '../../../scripts/generate-crd-schema.js';
import * as api from '../../../operator/src/api/index.js';

const crdText = readFileSync(CRD_PATH, 'utf8');
const crd = parse(crdText);
const version = crd.spec.versions[0];
const spec = version.schema.openAPIV3Schema.properties.spec;
const status = version.schema.openAPIV3Schema.properties.status;

test('operator/src/api/crd-schema.generated.ts is up to date (npm run generate:crd)', () => {
  assert.equal(readFileSync(GENERATED_PATH, 'utf8'), renderSchemaModule(crdText));
});

test('the CRD names the API as operator/src/api/ does', () => {
  assert.equal(crd.apiVersion, 'apiextensions.k8s.io/v1');
  assert.equal(crd.metadata.name, api.CRD_NAME);
  assert.equal(crd.spec.group, api.GROUP);
  assert.equal(crd.spec.scope, 'Namespaced');
  assert.deepEqual(crd.spec.names, {
    plural: api.PLURAL,
    singular: api.SINGULAR,
    kind: api.KIND,
    listKind: api.LIST_KIND,
    shortNames: [api.SHORT_NAME],
    categories: [api.CATEGORY],
  });
  assert.equal(crd.spec.versions.length, 1);
  assert.equal(version.name, api.VERSION);
  assert.equal(api.API_VERSION, 'cloudterm.io/v1alpha1');
  assert.deepEqual(version.subresources, { status: {} });
});

test('printer columns: owner, phase, age, expires, attached (reason and pod with -o wide)', () => {
  const columns = version.additionalPrinterColumns.map((c: { name: string; type: string; jsonPath: string; priority?: number }) => [c.name, c.type, c.jsonPath, c.priority ?? 0]);
  assert.deepEqual(columns, [
    ['Owner', 'string', '.spec.owner', 0],
    ['Phase', 'string', '.status.phase', 0],
    ['Age', 'date', '.metadata.creationTimestamp', 0],
    ['Expires', 'string', '.status.expiresAt', 0],
    ['Attached', 'integer', '.status.attached', 0],
    ['Reason', 'string', '.status.conditions[?(@.type=="Ready")].reason', 1],
    ['Pod', 'string', '.status.podName', 1],
  ]);
});

test('the defaults exported are the schema’s', () => {
  assert.equal(spec.properties.image.default, api.DEFAULT_IMAGE);
  assert.equal(spec.properties.idleTimeout.default, api.DEFAULT_IDLE_TIMEOUT);
  assert.equal(spec.properties.maxLifetime.default, api.DEFAULT_MAX_LIFETIME);
  assert.equal(spec.properties.ttlAfterEnd.default, api.DEFAULT_TTL_AFTER_END);
  assert.deepEqual(api.withDefaults({ owner: 'a' }).size, api.DEFAULT_SIZE);
  assert.equal(api.DEFAULT_IMAGE, 'ghcr.io/cloudterm/cloudterm:0.1.0');
});

test('phases, viewer roles, role kinds and the duration pattern are the schema’s', () => {
  assert.deepEqual(status.properties.phase.enum, [...api.PHASES]);
  assert.deepEqual(spec.properties.viewers.items.properties.role.enum, [...api.VIEWER_ROLES]);
  assert.deepEqual(spec.properties.access.properties.role.properties.kind.enum, [...api.ROLE_KINDS]);
  for (const field of ['idleTimeout', 'maxLifetime', 'ttlAfterEnd']) assert.equal(spec.properties[field].pattern, api.DURATION_PATTERN, field);
});

test('every Ready reason fits the condition schema’s reason pattern', () => {
  const reason = new RegExp(status.properties.conditions.items.properties.reason.pattern);
  for (const [key, value] of Object.entries(api.READY_REASONS)) {
    assert.equal(key, value);
    assert.match(value, reason);
  }
  assert.match(api.CONDITION_READY, new RegExp(status.properties.conditions.items.properties.type.pattern));
});

// The rig is 1.21, whose CRD schema does not know x-kubernetes-validations (and kubernetes-models'
// validators do not look inside x-kubernetes-* either): the rules' shape is checked here.
test('every x-kubernetes-validations entry has a rule and a message, and nothing else', () => {
  const entries: Array<Record<string, unknown>> = [];
  const walk = (node: Record<string, any>) => {
    entries.push(...(node['x-kubernetes-validations'] ?? []));
    for (const child of Object.values(node.properties ?? {})) walk(child as Record<string, any>);
    if (node.items) walk(node.items);
  };
  walk(version.schema.openAPIV3Schema);
  assert.equal(entries.length, api.CEL_RULES.length);
  for (const entry of entries) {
    assert.deepEqual(Object.keys(entry).sort(), ['message', 'rule'], JSON.stringify(entry));
    assert.ok(!/\n/.test(String(entry['message'])), 'messages are one line (the server refuses line breaks)');
  }
});
