// Who may do what with a session: accessOf, the rule every route and the attach path go through.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { accessOf, type Principal } from '../../gateway/src/sessions/session-service.js';
import type { SessionRecord } from '../../gateway/src/store/types.js';

const record = {
  id: 's1',
  name: 'terminal',
  owner: 'alice',
  tenant: 'team-a',
  endpoint: '',
  pid: null,
  state: 'running',
  createdAt: 0,
  expiresAt: 1,
  maxExpiresAt: 2,
  idleTimeoutMs: 1,
  shares: { bob: 'ro', carol: 'rw' },
  recorded: false,
} satisfies SessionRecord;

const user = (name: string, ...tenants: [string, boolean][]): Principal => ({ user: name, tenants: tenants.map(([tenant, admin]) => ({ tenant, admin })) });

test('the owner, and an admin of the session’s tenant, have full rights', () => {
  assert.equal(accessOf(user('alice', ['team-a', false]), record), 'owner');
  assert.equal(accessOf(user('dave', ['team-a', true]), record), 'admin');
});

test('a share holds for a member of the session’s tenant', () => {
  assert.equal(accessOf(user('bob', ['team-a', false]), record), 'ro');
  assert.equal(accessOf(user('carol', ['team-b', false], ['team-a', false]), record), 'rw');
});

test('a share does not cross tenants: its holder outside the tenant sees nothing', () => {
  assert.equal(accessOf(user('carol', ['team-b', false]), record), null);
  assert.equal(accessOf(user('bob'), record), null);
});

test('being an admin elsewhere gives nothing here', () => {
  assert.equal(accessOf(user('erin', ['team-b', true]), record), null);
});
