// Logging in and out from a terminal: the password asked without echo, the token kept in a file
// only the user can read, bearer tokens without an Origin, logout revoking, and an expired or
// revoked token telling the user to log in again — on every command and while attached.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { startGatewayFixture, type GatewayFixture, PASSWORDS } from '../../helpers/gateway-fixture.js';
import { makeClientHome, type ClientHome } from '../../helpers/client-terminal.js';
import { ClientErrors } from '../../../client/src/index.js';
import { CredentialsStore } from '../../../client/src/credentials-store.js';
import { loadOrCreateKeyPair } from '../../../core/src/keys/index.js';
import { UserTokens } from '../../../gateway/src/auth/user-tokens.js';
import { MemoryRevocationList } from '../../../gateway/src/store/memory-revocations.js';

let gw: GatewayFixture;
const homes: ClientHome[] = [];

async function loggedIn(user = 'alice'): Promise<ClientHome> {
  const home = await makeClientHome();
  homes.push(home);
  const login = await home.run(['login', gw.url, '--user', user], `${PASSWORDS[user]!}\n`);
  assert.equal(login.code, 0, login.stderr);
  return home;
}

function credentialsOf(home: ClientHome): CredentialsStore {
  return new CredentialsStore(join(home.env.XDG_CONFIG_HOME!, 'cloudterm'));
}

before(async () => {
  gw = await startGatewayFixture({ revocationCheckMs: 200 });
});
after(async () => {
  for (const home of homes) await home.remove();
  await gw?.stop();
});

describe('cloudterm login and logout', () => {
  test('a password typed at the prompt is not echoed; the token lands in a 0600 file in a 0700 directory', async () => {
    const home = await makeClientHome();
    homes.push(home);
    const terminal = home.terminal(['login', gw.url]);
    await terminal.waitFor(`user for ${gw.url}: `);
    terminal.type('alice\r');
    await terminal.waitFor(`password for alice@${gw.url}: `);
    terminal.type(`${PASSWORDS.alice}\r`);
    await terminal.waitFor(`logged in to ${gw.url} as alice`);
    const finished = await terminal.finished();
    assert.equal(finished.status, 0);
    assert.equal(finished.sttyAfter, finished.sttyBefore, 'echo is back on');
    assert.ok(!terminal.screen.includes(PASSWORDS.alice!), 'the password never showed');

    const store = credentialsOf(home);
    assert.equal((await stat(store.path)).mode & 0o777, 0o600);
    assert.equal((await stat(store.directory)).mode & 0o777, 0o700);
    const { url, login } = await store.find(null);
    assert.equal(url, gw.url);
    assert.equal(login.user, 'alice');
    // The stored token is a bearer token the API takes without any Origin or cookie.
    const me = await fetch(`${gw.url}/api/me`, { headers: { authorization: `Bearer ${login.token}` } });
    assert.equal(me.status, 200);
  });

  test('a wrong password: refused, nothing stored', async () => {
    const home = await makeClientHome();
    homes.push(home);
    const login = await home.run(['login', gw.url, '--user', 'alice'], 'not the password\n');
    assert.equal(login.code, ClientErrors.refused.exit);
    assert.match(login.stderr, /wrong user name or password/);
    await assert.rejects(readFile(credentialsOf(home).path), { code: 'ENOENT' });
  });

  test('--token-stdin stores a token it was given, checked with the gateway first', async () => {
    const source = await loggedIn();
    const { login } = await credentialsOf(source).find(null);
    const home = await makeClientHome();
    homes.push(home);
    const accepted = await home.run(['login', gw.url, '--token-stdin'], `${login.token}\n`);
    assert.equal(accepted.code, 0, accepted.stderr);
    assert.match(accepted.stderr, /as alice/);
    const refused = await home.run(['login', gw.url, '--token-stdin'], 'not-a-token\n');
    assert.equal(refused.code, ClientErrors.refused.exit);
  });

  test('logout revokes the token at the gateway and forgets it here', async () => {
    const home = await loggedIn();
    const { login } = await credentialsOf(home).find(null);
    const logout = await home.run(['logout']);
    assert.equal(logout.code, 0, logout.stderr);
    const me = await fetch(`${gw.url}/api/me`, { headers: { authorization: `Bearer ${login.token}` } });
    assert.equal(me.status, 401);
    assert.equal(((await me.json()) as { error: { code: string } }).error.code, 'token_revoked');
    const sessions = await home.run(['sessions']);
    assert.equal(sessions.code, ClientErrors.refused.exit);
    assert.match(sessions.stderr, /not logged in: run `cloudterm login URL` first/);
  });

  test('a token revoked elsewhere: every command says to log in again', async () => {
    const home = await loggedIn();
    const { login } = await credentialsOf(home).find(null);
    await fetch(`${gw.url}/api/logout`, { method: 'POST', headers: { authorization: `Bearer ${login.token}` } });
    for (const args of [['sessions'], ['new'], ['attach', 'anything']]) {
      const answer = await home.run(args);
      assert.equal(answer.code, ClientErrors.refused.exit, args.join(' '));
      assert.match(answer.stderr, new RegExp(`has expired or was revoked: run \`cloudterm login ${gw.url}\` again`));
    }
  });

  test('an expired token says to log in again', async () => {
    const home = await loggedIn();
    const keys = await loadOrCreateKeyPair(gw.config.tokenKeys.privateKeyFile, gw.config.tokenKeys.publicKeyFile);
    const past = new UserTokens({ ...keys, revocations: new MemoryRevocationList(), now: () => Date.now() - 2 * 3600_000 });
    const { token } = await past.issue('alice');
    const store = credentialsOf(home);
    await store.save(gw.url, { user: 'alice', token, expiresAt: null, caFile: null });
    const answer = await home.run(['sessions']);
    assert.equal(answer.code, ClientErrors.refused.exit);
    assert.match(answer.stderr, /has expired or was revoked: run `cloudterm login/);
  });

  test('logged out elsewhere while attached: the client ends, says to log in again, the terminal is sane', async () => {
    const home = await loggedIn();
    assert.equal((await home.run(['new', '--name', 'revoked'])).code, 0);
    const terminal = home.terminal(['attach', 'revoked']);
    await terminal.waitFor(/[$#] $/, { timeoutMs: 20_000 });
    const { login } = await credentialsOf(home).find(null);
    await fetch(`${gw.url}/api/logout`, { method: 'POST', headers: { authorization: `Bearer ${login.token}` } });
    const finished = await terminal.finished();
    assert.equal(finished.status, ClientErrors.refused.exit);
    assert.equal(finished.sttyAfter, finished.sttyBefore);
    assert.match(terminal.screen, /has expired or was revoked: run `cloudterm login/);
  });

  test('bad command lines: exit 2 with the usage', async () => {
    const home = await loggedIn();
    const missing = await home.run(['attach']);
    assert.equal(missing.code, ClientErrors.usage.exit);
    assert.match(missing.stderr, /missing ID\|NAME\nusage: cloudterm attach ID\|NAME/);
    const role = await home.run(['share', 'x', 'bob', 'admin']);
    assert.equal(role.code, ClientErrors.usage.exit);
    assert.match(role.stderr, /the role is rw or ro/);
    const keys = await home.run(['attach', 'x', '--detach-keys', 'ctrl-1']);
    assert.equal(keys.code, ClientErrors.usage.exit);
    assert.match(keys.stderr, /"ctrl-1" is not a key/);
    const url = await home.run(['login', 'ftp://example.com']);
    assert.equal(url.code, ClientErrors.usage.exit);
    const help = await home.run(['attach', '--help']);
    assert.equal(help.code, 0);
    assert.match(help.stdout, /--detach-keys/);
  });
});
