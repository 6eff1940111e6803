import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Tenants, TenantsFileError, isTenantName } from '../../../gateway/src/auth/tenants.js';

const FILE = JSON.stringify({
  tenants: {
    'team-a': { members: ['alice', 'bob'], admins: ['alice'] },
    'team-b': { members: ['bob'] },
    ops: { admins: ['carol'] },
  },
});

function fileError(document: unknown): TenantsFileError {
  try {
    Tenants.parse(typeof document === 'string' ? document : JSON.stringify(document), 'tenants.json');
  } catch (error) {
    assert.ok(error instanceof TenantsFileError);
    return error;
  }
  assert.fail('the file was accepted');
}

test('without a file every user is a plain member of the one default tenant', () => {
  const tenants = Tenants.single('local');
  assert.deepEqual(tenants.tenantsOf('admin'), [{ tenant: 'local', admin: false }]);
  assert.deepEqual(tenants.tenantsOf('anyone-else'), [{ tenant: 'local', admin: false }]);
});

test('the default tenant must be a namespace name', () => {
  assert.throws(() => Tenants.single('Local'), /not a valid namespace name/);
  assert.throws(() => Tenants.single(''), /not a valid namespace name/);
});

test('a tenants file gives members and admins, admins being members too, in file order', () => {
  const tenants = Tenants.parse(FILE, 'tenants.json');
  assert.deepEqual(tenants.tenantsOf('alice'), [{ tenant: 'team-a', admin: true }]);
  assert.deepEqual(tenants.tenantsOf('bob'), [
    { tenant: 'team-a', admin: false },
    { tenant: 'team-b', admin: false },
  ]);
  assert.deepEqual(tenants.tenantsOf('carol'), [{ tenant: 'ops', admin: true }]);
  assert.deepEqual(tenants.tenantsOf('mallory'), []);
});

test('OIDC groups naming a configured tenant grant membership; <tenant>:admin grants admin', () => {
  const tenants = Tenants.parse(FILE, 'tenants.json');
  assert.deepEqual(tenants.tenantsOf('dave', ['team-b', 'ops:admin', 'engineering']), [
    { tenant: 'team-b', admin: false },
    { tenant: 'ops', admin: true },
  ]);
  assert.deepEqual(tenants.tenantsOf('bob', ['team-a:admin']), [
    { tenant: 'team-a', admin: true },
    { tenant: 'team-b', admin: false },
  ]);
  // An IdP cannot invent tenants the operator did not configure.
  assert.deepEqual(tenants.tenantsOf('eve', ['kube-system', 'kube-system:admin', 'team-a:owner']), []);
});

test('with no file, the default tenant is the one a group can make someone admin of', () => {
  const tenants = Tenants.single('default');
  assert.deepEqual(tenants.tenantsOf('dave', ['default:admin', 'other:admin']), [{ tenant: 'default', admin: true }]);
});

test('tenant names are checked as Kubernetes namespace names', () => {
  assert.ok(isTenantName('team-a'));
  assert.ok(isTenantName('a'.repeat(63)));
  assert.ok(!isTenantName('a'.repeat(64)));
  for (const bad of ['Team-A', 'team_a', '-team', 'team-', 'team.a', '']) assert.ok(!isTenantName(bad), bad);
});

test('every problem in a tenants file is reported at once, with where it is', () => {
  const error = fileError({
    tenant: {},
    tenants: {
      Team_A: { members: ['alice'] },
      'team-b': { members: 'bob', admin: ['bob'] },
      'team-c': { members: ['carol', 7, ''] },
      'team-d': ['dave'],
    },
  });
  assert.deepEqual(error.problems, [
    'unknown key "tenant" (expected only "tenants")',
    'tenants.Team_A: "Team_A" is not a valid namespace name (lowercase DNS-1123 label: a-z 0-9 -, at most 63 characters, starting and ending with a letter or digit)',
    'tenants.team-b: unknown key "admin" (expected "members" and "admins")',
    'tenants.team-b.members: expected a list of user names',
    'tenants.team-c.members[1]: expected a non-empty user name string',
    'tenants.team-c.members[2]: expected a non-empty user name string',
    'tenants.team-d: expected an object {"members": [...], "admins": [...]}',
  ]);
  assert.match(error.message, /^tenants\.json: 7 problems:/);
});

test('a tenants file that is not JSON or has no tenants object says so', () => {
  assert.match(fileError('{"tenants": {').message, /^tenants\.json: 1 problem:\n {2}- not valid JSON/);
  assert.deepEqual(fileError([]).problems, ['expected an object {"tenants": {...}}']);
  assert.deepEqual(fileError({ tenants: ['team-a'] }).problems, [
    '"tenants" must be an object mapping tenant names to {"members": [...], "admins": [...]}',
  ]);
});

test('fromConfig loads the file, or falls back to the default tenant without one', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'cloudterm-tenants-'));
  try {
    const path = join(dir, 'tenants.json');
    await writeFile(path, FILE);
    const fromFile = await Tenants.fromConfig({ file: path, defaultTenant: 'default' });
    assert.deepEqual(fromFile.tenantsOf('carol'), [{ tenant: 'ops', admin: true }]);
    const fallback = await Tenants.fromConfig({ file: null, defaultTenant: 'local' });
    assert.deepEqual(fallback.tenantsOf('carol'), [{ tenant: 'local', admin: false }]);
    await writeFile(path, '{"tenants": {"BAD": {}}}');
    await assert.rejects(Tenants.fromConfig({ file: path, defaultTenant: 'default' }), (error: unknown) => {
      return error instanceof TenantsFileError && error.message.startsWith(`${path}: 1 problem`);
    });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
