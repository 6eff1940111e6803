// The CRD's structural schema on good and bad specs: the causes a 1.16+ API server answers (as
// test/helpers/structural-schema.ts models them, which test/integration/kube/ checks against the real server),
// pruning of unknown fields, and the properties of the schema a server (and CEL's cost budget) needs.
import { test } from 'node:test';
import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import assert from 'node:assert/strict';
import { TERMINAL_SESSION_SCHEMA } from '../../../operator/src/api/crd-schema.generated.js';
import type { JsonSchema } from '../../../operator/src/api/json-schema.js';
import { applySchemaDefaults, celViolations, withDefaults } from '../../../operator/src/api/index.js';
import { prune, schemaCauses } from '../../helpers/structural-schema.js';
import { BAD_SPECS } from '../../helpers/terminal-session-specs.js';

const causesOf = (spec: unknown) =>
  schemaCauses(applySchemaDefaults({ spec }, TERMINAL_SESSION_SCHEMA), TERMINAL_SESSION_SCHEMA, '')
    .map((c) => `${c.field}: ${c.message}`)
    .sort();

const GOOD_SPECS: Array<[string, unknown]> = [
  ['the smallest spec', { owner: 'alice' }],
  ['a user name with a colon and an at sign', { owner: 'system:serviceaccount:team-a:ci' }],
  ['an email address and a display name with spaces', { owner: 'Alice Smith', viewers: [{ user: 'bob@example.com' }] }],
  [
    'every field',
    {
      owner: 'alice',
      image: 'localhost:5000/cloudterm__dev/shell-image:v1.2.3-rc.1',
      command: ['/bin/bash', '-l'],
      args: [''],
      env: [{ name: 'EDITOR', value: 'vim' }, { name: 'EMPTY' }],
      workingDir: '/home/user/src',
      resources: { requests: { cpu: '500m', memory: '64Mi', 'ephemeral-storage': '1G' }, limits: { cpu: 2, memory: '1e9' } },
      idleTimeout: '1h30m',
      maxLifetime: '168h',
      viewers: [{ user: 'bob', role: 'rw' }, { user: 'carol', role: 'ro' }],
      record: true,
      size: { cols: 1000, rows: 5 },
      access: { role: { kind: 'Role', name: 'deployer.team-a' } },
      keepAfterEnd: true,
      ttlAfterEnd: '0s',
    },
  ],
  ['an image by digest', { owner: 'alice', image: 'ghcr.io/cloudterm/cloudterm@sha256:' + '0'.repeat(64) }],
];

for (const [name, spec] of GOOD_SPECS) {
  test(`schema accepts ${name}`, () => assert.deepEqual(causesOf(spec), []));
}

for (const bad of BAD_SPECS) {
  test(`schema refuses ${bad.name}`, () => assert.deepEqual(causesOf(bad.spec), bad.causes));
}

test('more image references the pattern refuses', () => {
  for (const image of ['Ghcr.io/cloudterm/cloudterm', 'ghcr.io//cloudterm', 'ghcr.io/cloudterm/cloudterm:', 'ghcr.io/cloudterm/cloudterm:0.1.0\n', 'a:b:c', '$(id)']) {
    assert.equal(causesOf({ owner: 'alice', image }).length, 1, image);
  }
});

test('unknown fields are pruned, at every level', () => {
  const stored = prune(
    { spec: { owner: 'alice', privileged: true, size: { cols: 90, depth: 3 }, viewers: [{ user: 'bob', admin: true }] }, extra: 1 },
    TERMINAL_SESSION_SCHEMA,
  );
  assert.deepEqual(stored, { spec: { owner: 'alice', size: { cols: 90 }, viewers: [{ user: 'bob' }] } });
});

test('the defaults a create fills in, including nested ones', () => {
  assert.deepEqual(withDefaults({ owner: 'alice', viewers: [{ user: 'bob' }], size: { cols: 100 } }), {
    owner: 'alice',
    image: 'ghcr.io/cloudterm/cloudterm:0.1.0',
    idleTimeout: '30m',
    maxLifetime: '8h',
    viewers: [{ user: 'bob', role: 'ro' }],
    record: false,
    size: { cols: 100, rows: 24 },
    keepAfterEnd: false,
    ttlAfterEnd: '1h',
  });
  assert.equal(withDefaults({ owner: 'a', record: null as unknown as boolean }).record, false, 'an explicit null is defaulted, as the server does');
});

function* nodes(schema: JsonSchema, path: string): Generator<[string, JsonSchema]> {
  yield [path, schema];
  for (const [name, child] of Object.entries(schema.properties ?? {})) yield* nodes(child, `${path}.${name}`);
  if (schema.items) yield* nodes(schema.items, `${path}[]`);
}

test('the schema is structural and bounded: a type everywhere, every string and list limited', () => {
  for (const [path, node] of nodes(TERMINAL_SESSION_SCHEMA, '')) {
    const intOrString = node['x-kubernetes-int-or-string'] === true;
    assert.ok(node.type || intOrString, `${path} has a type`);
    if (path === '.metadata' || !path.startsWith('.spec') && !path.startsWith('.status')) continue;
    // CEL's cost estimate (1.25+) refuses rules over unbounded strings and lists.
    if (node.type === 'string' && !node.enum && node.format !== 'date-time') assert.ok(node.maxLength, `${path} has a maxLength`);
    if (node.type === 'array') assert.ok(node.maxItems, `${path} has a maxItems`);
  }
});

test('every spec and status field is described (what `kubectl explain ts.spec` shows)', () => {
  for (const [path, node] of nodes(TERMINAL_SESSION_SCHEMA, '')) {
    if (/^\.(spec|status)/.test(path) && !path.endsWith('[]')) assert.ok(node.description, `${path} has a description`);
  }
});

test('every default is valid against its own schema', () => {
  for (const [path, node] of nodes(TERMINAL_SESSION_SCHEMA, '')) {
    if (node.default === undefined) continue;
    assert.deepEqual(schemaCauses(applySchemaDefaults(node.default, node), node, path), [], path);
  }
});

test('docs/examples/terminalsession.yaml is valid: schema, CEL rules, nothing pruned', () => {
  const example = parse(readFileSync(new URL('../../../docs/examples/terminalsession.yaml', import.meta.url), 'utf8'));
  assert.equal(example.apiVersion, 'cloudterm.io/v1alpha1');
  assert.equal(example.kind, 'TerminalSession');
  assert.deepEqual(causesOf(example.spec), []);
  assert.deepEqual(celViolations(example), []);
  assert.deepEqual(prune(example, TERMINAL_SESSION_SCHEMA), example);
});
