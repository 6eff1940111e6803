// Every x-kubernetes-validations rule of crds/terminalsession.yaml, evaluated by @bufbuild/cel the
// way a 1.25+ API server evaluates it (defaults applied first, transition rules on updates only),
// on specs that keep it and specs that break it, with the message the server would answer. The
// same celViolations() is what the operator uses to refuse such specs on older servers.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  CEL_RULES, STARTED_SPEC_ANNOTATION, celViolations, startedSpecAnnotation, startedSpecOf, withDefaults,
  type SessionObject, type TerminalSessionSpecInput,
} from '../../../operator/src/api/index.js';

const spec = (extra: Partial<TerminalSessionSpecInput> = {}): TerminalSessionSpecInput => ({ owner: 'alice', ...extra });
const session = (extra: Partial<TerminalSessionSpecInput> = {}, name = 'dev'): SessionObject => ({ metadata: { name }, spec: spec(extra) });
const messages = (object: SessionObject, old?: SessionObject) => celViolations(object, old).map((v) => `${v.field}: ${v.message}`);

const IMMUTABLE = (field: string) => `spec: spec.${field} is immutable: a session runs one shell; create a new TerminalSession instead`;
const viewRole = { role: { kind: 'ClusterRole' as const, name: 'view' } };

interface Case {
  name: string;
  object: SessionObject;
  old?: SessionObject;
  /** The messages the server answers (field: message), in rule order; empty when accepted. */
  expect: string[];
}

const cases: Case[] = [
  { name: 'a minimal spec, defaults filled in', object: session(), expect: [] },
  {
    name: 'a full spec',
    object: session({
      image: 'registry.example.com:5000/team/shell:1.2@sha256:' + 'a'.repeat(64),
      command: ['bash', '-l'],
      args: ['-i'],
      env: [{ name: 'EDITOR', value: 'vim' }],
      workingDir: '/work',
      resources: { requests: { cpu: '100m', memory: '64Mi' }, limits: { memory: 1073741824 } },
      idleTimeout: '1h30m',
      maxLifetime: '12h',
      viewers: [{ user: 'bob', role: 'rw' }, { user: 'carol' }],
      record: true,
      size: { cols: 120, rows: 40 },
      access: viewRole,
      keepAfterEnd: true,
      ttlAfterEnd: '0s',
    }),
    expect: [],
  },
  { name: 'idleTimeout equal to maxLifetime', object: session({ idleTimeout: '2h', maxLifetime: '120m' }), expect: [] },
  {
    name: 'idleTimeout longer than maxLifetime',
    object: session({ idleTimeout: '2h', maxLifetime: '1h' }),
    expect: ['spec: spec.idleTimeout must not be longer than spec.maxLifetime'],
  },
  {
    name: 'idleTimeout longer than the default maxLifetime (8h)',
    object: session({ idleTimeout: '9h' }),
    expect: ['spec: spec.idleTimeout must not be longer than spec.maxLifetime'],
  },
  { name: 'idleTimeout under 1m', object: session({ idleTimeout: '59s' }), expect: ['spec.idleTimeout: spec.idleTimeout must be between 1m and 24h'] },
  {
    name: 'idleTimeout over 24h',
    object: session({ idleTimeout: '25h', maxLifetime: '168h' }),
    expect: ['spec.idleTimeout: spec.idleTimeout must be between 1m and 24h'],
  },
  {
    name: 'maxLifetime of 0s',
    object: session({ idleTimeout: '1m', maxLifetime: '0s' }),
    expect: ['spec: spec.idleTimeout must not be longer than spec.maxLifetime', 'spec.maxLifetime: spec.maxLifetime must be between 1m and 168h (7 days)'],
  },
  { name: 'maxLifetime over 7 days', object: session({ maxLifetime: '169h' }), expect: ['spec.maxLifetime: spec.maxLifetime must be between 1m and 168h (7 days)'] },
  { name: 'ttlAfterEnd over 30 days', object: session({ ttlAfterEnd: '721h' }), expect: ['spec.ttlAfterEnd: spec.ttlAfterEnd must be at most 720h (30 days)'] },
  {
    name: 'the owner listed as a viewer',
    object: session({ viewers: [{ user: 'bob' }, { user: 'alice', role: 'ro' }] }),
    expect: ['spec: spec.viewers must not list the owner, who always has rw'],
  },
  {
    name: 'a reserved CLOUDTERM_ variable',
    object: session({ env: [{ name: 'HOME', value: '/home/u' }, { name: 'CLOUDTERM_AGENT_LISTEN', value: '0.0.0.0:1' }] }),
    expect: ['spec.env[1].name: spec.env names starting with CLOUDTERM_ are reserved for the agent'],
  },
  {
    name: 'a null field is an absent one',
    object: session({ access: null as never, env: [{ name: 'KUBECONFIG', value: '/k' }] }),
    old: session({ env: [{ name: 'KUBECONFIG', value: '/k' }] }),
    expect: [],
  },
  { name: 'KUBECONFIG without access', object: session({ env: [{ name: 'KUBECONFIG', value: '/k' }] }), expect: [] },
  {
    name: 'KUBECONFIG with access',
    object: session({ env: [{ name: 'KUBECONFIG', value: '/k' }], access: viewRole }),
    expect: ["spec: spec.env must not set KUBECONFIG when spec.access is set: the operator points it at the session's own kubeconfig"],
  },
  { name: 'a 50-character name', object: session({}, 'a'.repeat(50)), expect: [] },
  {
    name: 'a 51-character name',
    object: session({}, 'a'.repeat(51)),
    expect: [": metadata.name must be at most 50 characters: the session's pod, ServiceAccount and RoleBinding are named after it within Kubernetes' 63-character limits"],
  },
  // Updates: what may change while the session runs, and what may not.
  {
    name: 'an update of viewers, timeouts and keepAfterEnd',
    object: session({ viewers: [{ user: 'bob' }], idleTimeout: '10m', maxLifetime: '4h', keepAfterEnd: true, ttlAfterEnd: '2h' }),
    old: session(),
    expect: [],
  },
  { name: 'an update that only spells a default out', object: session({ image: 'ghcr.io/cloudterm/cloudterm:0.1.0', size: { cols: 80 } }), old: session(), expect: [] },
  {
    name: 'env reordered (a list map compares without order, as the server does)',
    object: session({ env: [{ name: 'B', value: '2' }, { name: 'A', value: '1' }] }),
    old: session({ env: [{ name: 'A', value: '1' }, { name: 'B', value: '2' }] }),
    expect: [],
  },
  { name: 'a changed owner', object: session({ owner: 'mallory' }), old: session(), expect: ['spec.owner: spec.owner is immutable'] },
  {
    name: 'a changed image',
    object: session({ image: 'ghcr.io/cloudterm/cloudterm:0.2.0' }),
    old: session(),
    expect: ['spec.image: spec.image is immutable: a session runs one shell; create a new TerminalSession instead'],
  },
  { name: 'a command added', object: session({ command: ['zsh'] }), old: session(), expect: [IMMUTABLE('command')] },
  { name: 'a command changed', object: session({ command: ['zsh'] }), old: session({ command: ['bash'] }), expect: [IMMUTABLE('command')] },
  { name: 'args removed', object: session(), old: session({ args: ['-l'] }), expect: [IMMUTABLE('args')] },
  { name: 'env changed', object: session({ env: [{ name: 'A', value: '2' }] }), old: session({ env: [{ name: 'A', value: '1' }] }), expect: [IMMUTABLE('env')] },
  { name: 'workingDir changed', object: session({ workingDir: '/tmp' }), old: session({ workingDir: '/work' }), expect: [IMMUTABLE('workingDir')] },
  {
    name: 'resources changed',
    object: session({ resources: { limits: { memory: '1Gi' } } }),
    old: session({ resources: { limits: { memory: '512Mi' } } }),
    expect: [IMMUTABLE('resources')],
  },
  {
    name: 'access added',
    object: session({ access: viewRole }),
    old: session(),
    expect: ["spec: spec.access is immutable: the shell's rights are fixed when it starts; create a new TerminalSession instead"],
  },
  {
    name: 'access widened',
    object: session({ access: { role: { kind: 'ClusterRole', name: 'edit' } } }),
    old: session({ access: viewRole }),
    expect: ["spec: spec.access is immutable: the shell's rights are fixed when it starts; create a new TerminalSession instead"],
  },
  {
    name: 'record turned on',
    object: session({ record: true }),
    old: session(),
    expect: ['spec.record: spec.record is immutable: a recording covers the whole session or none of it'],
  },
  {
    name: 'size changed',
    object: session({ size: { cols: 100, rows: 30 } }),
    old: session(),
    expect: ['spec.size: spec.size is immutable: it is the size the shell started with; clients resize the terminal itself'],
  },
  { name: 'the same immutable fields on a create (no old object)', object: session({ owner: 'mallory', record: true }), expect: [] },
];

for (const c of cases) {
  test(`CEL rules: ${c.name}`, () => {
    assert.deepEqual(messages(c.object, c.old), c.expect);
  });
}

test('every rule of the CRD is kept by some case and broken by another', () => {
  const broken = new Set(cases.flatMap((c) => celViolations(c.object, c.old).map((v) => v.rule)));
  const rules = CEL_RULES.map((r) => r.rule);
  assert.deepEqual(rules.filter((rule) => !broken.has(rule)), [], 'rules no case breaks');
  assert.ok(rules.length >= 18, `the CRD has ${rules.length} rules`);
  assert.ok(cases.some((c) => c.expect.length === 0 && c.old) && cases.some((c) => c.expect.length === 0 && !c.old));
});

test('a transition rule (oldSelf) is skipped on a create and checked on an update', () => {
  const transition = CEL_RULES.filter((r) => r.transition).map((r) => r.path);
  assert.deepEqual([...new Set(transition)], ['spec', 'spec.owner', 'spec.image', 'spec.record', 'spec.size']);
});

test('a value the pattern refuses is reported, not thrown, when CEL cannot parse it', () => {
  const violations = celViolations(session({ idleTimeout: 'soon' }));
  assert.equal(violations.length, 2);
  for (const v of violations) assert.match(v.message, /could not be evaluated: .*duration/i);
});

test('celViolations does not change its arguments', () => {
  const object = session({ viewers: [{ user: 'bob' }] });
  const copy = structuredClone(object);
  celViolations(object, session());
  assert.deepEqual(object, copy);
});

test('the spec recorded at the start is the old object of the immutability rules', () => {
  const started = withDefaults(spec({ owner: 'alice', record: true }));
  const annotations = startedSpecAnnotation(started);
  assert.deepEqual(Object.keys(annotations), [STARTED_SPEC_ANNOTATION]);
  const recorded = startedSpecOf(annotations);
  assert.deepEqual(recorded, started);
  const changed: SessionObject = { metadata: { name: 'dev' }, spec: { ...started, owner: 'mallory' } };
  assert.deepEqual(messages(changed, { metadata: { name: 'dev' }, spec: recorded }), ['spec.owner: spec.owner is immutable']);
  assert.equal(startedSpecOf(undefined), undefined);
  assert.equal(startedSpecOf({ [STARTED_SPEC_ANNOTATION]: 'not json' }), undefined);
  assert.equal(startedSpecOf({ [STARTED_SPEC_ANNOTATION]: '[1]' }), undefined);
});
