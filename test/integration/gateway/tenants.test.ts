// Tenants from a tenants file, with password users: sessions are shared within their tenant.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startGatewayFixture, type ApiClient, type GatewayFixture } from '../../helpers/gateway-fixture.js';

let gw: GatewayFixture;
let alice: ApiClient;
let bob: ApiClient;
let carol: ApiClient;

before(async () => {
  const dir = await mkdtemp(join(tmpdir(), 'cloudterm-tenants-'));
  const tenantsFile = join(dir, 'tenants.json');
  await writeFile(tenantsFile, JSON.stringify({ tenants: { 'team-a': { members: ['alice', 'bob'] }, 'team-b': { members: ['carol'] } } }));
  gw = await startGatewayFixture({ args: ['--tenants-file', tenantsFile] });
  [alice, bob, carol] = await Promise.all([gw.login('alice'), gw.login('bob'), gw.login('carol')]);
});
after(async () => {
  await gw?.stop();
});

describe('sharing within a tenant', () => {
  test('a member of the tenant can be given a share; someone of another tenant, or nobody known, cannot', async (t) => {
    const { body: session } = await alice.request<{ id: string; tenant: string }>('POST', '/api/sessions', {});
    t.after(() => alice.request('DELETE', `/api/sessions/${session.id}`));
    assert.equal(session.tenant, 'team-a');

    const toBob = await alice.request('PUT', `/api/sessions/${session.id}/shares/bob`, { role: 'ro' });
    assert.equal(toBob.status, 200);
    assert.equal((await bob.request('GET', `/api/sessions/${session.id}`)).body.role, 'ro');

    for (const user of ['carol', 'nobody']) {
      const refused = await alice.request('PUT', `/api/sessions/${session.id}/shares/${user}`, { role: 'ro' });
      assert.equal(refused.status, 400, user);
      assert.equal(refused.body.error.code, 'validation_failed');
      assert.match(refused.body.error.message, new RegExp(`no user "${user}" in tenant "team-a"`));
    }
    assert.equal((await carol.request('GET', `/api/sessions/${session.id}`)).status, 404, 'carol still sees nothing');
    // Taking a share back needs no membership: it only removes.
    assert.equal((await alice.request('DELETE', `/api/sessions/${session.id}/shares/nobody`)).status, 200);
  });
});
