// A tenant's admins see and manage every terminal of their tenant, and nothing of other tenants.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startGatewayFixture, type ApiClient, type GatewayFixture } from '../../helpers/gateway-fixture.js';

let gw: GatewayFixture;
let alice: ApiClient;
let bob: ApiClient;
let carol: ApiClient;

type View = { id: string; name: string; owner: string; tenant: string; role: string };

before(async () => {
  const dir = await mkdtemp(join(tmpdir(), 'cloudterm-admins-'));
  const tenantsFile = join(dir, 'tenants.json');
  // carol administers team-a (alice's) and belongs to no other; bob is alone in team-b.
  await writeFile(tenantsFile, JSON.stringify({ tenants: { 'team-a': { members: ['alice'], admins: ['carol'] }, 'team-b': { members: ['bob'] } } }));
  gw = await startGatewayFixture({ args: ['--tenants-file', tenantsFile] });
  [alice, bob, carol] = await Promise.all([gw.login('alice'), gw.login('bob'), gw.login('carol')]);
});
after(async () => {
  await gw?.stop();
});

const listed = async (client: ApiClient) => (await client.request<{ sessions: View[] }>('GET', '/api/sessions')).body.sessions;

test("an admin's list holds every terminal of the tenant, as admin, and none of another tenant's", async () => {
  const alices = (await alice.request<View>('POST', '/api/sessions', { name: 'alice work' })).body;
  const bobs = (await bob.request<View>('POST', '/api/sessions', { name: 'bob work' })).body;
  const carols = (await carol.request<View>('POST', '/api/sessions', { name: 'carol own' })).body;

  const seen = await listed(carol);
  assert.deepEqual(seen.map((s) => [s.name, s.role]), [['carol own', 'owner'], ['alice work', 'admin']], 'newest first, each once');
  assert.ok(!seen.some((s) => s.id === bobs.id), "another tenant's terminal is not listed");
  assert.deepEqual((await listed(alice)).map((s) => s.id), [alices.id], "a member's list is still only hers");

  // What the list shows, the admin can manage: rename it, and end it.
  assert.equal((await carol.request('PATCH', `/api/sessions/${alices.id}`, { name: 'checked by carol' })).status, 200);
  assert.equal((await alice.request<View>('GET', `/api/sessions/${alices.id}`)).body.name, 'checked by carol');
  assert.equal((await carol.request('DELETE', `/api/sessions/${alices.id}`)).status, 204);
  assert.deepEqual(await listed(alice), []);
  assert.equal((await carol.request('DELETE', `/api/sessions/${bobs.id}`)).status, 404, "another tenant's terminal stays out of reach");
  for (const [client, id] of [[bob, bobs.id], [carol, carols.id]] as const) await client.request('DELETE', `/api/sessions/${id}`);
});
