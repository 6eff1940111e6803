// Bearer tokens from an identity provider, through the gateway as configured: a real JWKS
// endpoint, the --oidc-* options, and groups that name tenants.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { once } from 'node:events';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SignJWT, exportJWK, generateKeyPair, type CryptoKey } from 'jose';
import { startGatewayFixture, ApiClient, type GatewayFixture } from '../../helpers/gateway-fixture.js';

const ISSUER = 'https://idp.example.test';
const AUDIENCE = 'cloudterm';
let jwks: Server;
let gw: GatewayFixture;
let idpKey: CryptoKey;

async function idpToken(claims: Record<string, unknown>, key: CryptoKey = idpKey): Promise<string> {
  return new SignJWT(claims)
    .setProtectedHeader({ alg: 'RS256', kid: 'k1' })
    .setIssuer(ISSUER)
    .setAudience(AUDIENCE)
    .setIssuedAt()
    .setExpirationTime('5m')
    .sign(key);
}

before(async () => {
  const pair = await generateKeyPair('RS256', { extractable: true });
  idpKey = pair.privateKey;
  const jwk = { ...(await exportJWK(pair.publicKey)), kid: 'k1', alg: 'RS256', use: 'sig' };
  jwks = createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ keys: [jwk] }));
  }).listen(0, '127.0.0.1');
  await once(jwks, 'listening');
  const dir = await mkdtemp(join(tmpdir(), 'cloudterm-oidc-'));
  const tenantsFile = join(dir, 'tenants.json');
  await writeFile(tenantsFile, JSON.stringify({ tenants: { 'team-a': { members: [], admins: [] }, 'team-b': { members: [], admins: [] } } }));
  gw = await startGatewayFixture({
    args: [
      '--oidc-issuer', ISSUER,
      '--oidc-audience', AUDIENCE,
      '--oidc-jwks-url', `http://127.0.0.1:${(jwks.address() as { port: number }).port}/jwks`,
      '--tenants-file', tenantsFile,
    ],
  });
});

after(async () => {
  await gw?.stop();
  jwks?.close();
});

describe('OIDC bearer tokens through the gateway', () => {
  test("an IdP token logs the user in; its groups name the user's tenants", async () => {
    const token = await idpToken({ sub: 'u-123', preferred_username: 'dana', groups: ['team-b', 'team-a:admin', 'unrelated'] });
    const api = new ApiClient(gw.url, null);
    const me = await api.request('GET', '/api/me', undefined, { authorization: `Bearer ${token}` });
    assert.equal(me.status, 200);
    assert.equal(me.body.user, 'dana');
    assert.deepEqual(me.body.tenants, [
      { tenant: 'team-a', admin: true },
      { tenant: 'team-b', admin: false },
    ]);
    const created = await api.request('POST', '/api/sessions', { tenant: 'team-b' }, { authorization: `Bearer ${token}` });
    assert.equal(created.status, 201);
    assert.equal(created.body.tenant, 'team-b');
    const elsewhere = await api.request('POST', '/api/sessions', { tenant: 'team-c' }, { authorization: `Bearer ${token}` });
    assert.equal(elsewhere.status, 403);
    await api.request('DELETE', `/api/sessions/${created.body.id}`, undefined, { authorization: `Bearer ${token}` });
  });

  test('a token signed by another key, or for another audience, is refused', async () => {
    const stranger = await generateKeyPair('RS256');
    const forged = await idpToken({ sub: 'x', preferred_username: 'mallory', groups: ['team-a:admin'] }, stranger.privateKey);
    const api = new ApiClient(gw.url, null);
    const refused = await api.request('GET', '/api/me', undefined, { authorization: `Bearer ${forged}` });
    assert.equal(refused.status, 401);
    const otherAudience = await new SignJWT({ preferred_username: 'mallory' })
      .setProtectedHeader({ alg: 'RS256', kid: 'k1' })
      .setIssuer(ISSUER)
      .setAudience('someone-else')
      .setIssuedAt()
      .setExpirationTime('5m')
      .sign(idpKey);
    assert.equal((await api.request('GET', '/api/me', undefined, { authorization: `Bearer ${otherAudience}` })).status, 401);
  });

  test('logout revokes an IdP token too', async () => {
    const token = await idpToken({ sub: 'u-9', preferred_username: 'erin', groups: ['team-a'] });
    const api = new ApiClient(gw.url, null);
    assert.equal((await api.request('POST', '/api/logout', undefined, { authorization: `Bearer ${token}` })).status, 204);
    const after = await api.request('GET', '/api/me', undefined, { authorization: `Bearer ${token}` });
    assert.equal(after.status, 401);
    assert.equal(after.body.error.code, 'token_revoked');
  });

  test('a share holds only while its holder is in the session’s tenant (groups decide, token by token)', async () => {
    const bearer = async (user: string, groups: string[]) => ({ authorization: `Bearer ${await idpToken({ sub: `id-${user}`, preferred_username: user, groups })}` });
    const api = new ApiClient(gw.url, null);
    const owner = await bearer('frank', ['team-a']);
    const created = await api.request('POST', '/api/sessions', { tenant: 'team-a' }, owner);
    assert.equal(created.status, 201);
    // Users of an identity provider are known only when they log in: any name may get a share.
    const shared = await api.request('PUT', `/api/sessions/${created.body.id}/shares/gina`, { role: 'ro' }, owner);
    assert.equal(shared.status, 200);

    const ginaInTeamB = await bearer('gina', ['team-b']);
    assert.equal((await api.request('GET', `/api/sessions/${created.body.id}`, undefined, ginaInTeamB)).status, 404);
    assert.deepEqual((await api.request('GET', '/api/sessions', undefined, ginaInTeamB)).body.sessions, []);

    const ginaInTeamA = await bearer('gina', ['team-a']);
    const seen = await api.request('GET', `/api/sessions/${created.body.id}`, undefined, ginaInTeamA);
    assert.equal(seen.status, 200);
    assert.equal(seen.body.role, 'ro');
    await api.request('DELETE', `/api/sessions/${created.body.id}`, undefined, owner);
  });
});
