// The client and an HTTPS gateway: a certificate nobody vouched for is refused with what to do
// about it; with --ca-file the login works, the CA file is remembered, and attach goes over wss://.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PASSWORDS, startGatewayFixture, type GatewayFixture } from '../../helpers/gateway-fixture.js';
import { makeClientHome, type ClientHome } from '../../helpers/client-terminal.js';
import { ClientErrors } from '../../../client/src/index.js';

let dir: string;
let gw: GatewayFixture;
let home: ClientHome;
let certFile: string;

/** A self-signed certificate (its own CA) for 127.0.0.1, valid for a day. */
function makeCertificate(name: string): { cert: string; key: string } {
  const cert = join(dir, `${name}.crt`);
  const key = join(dir, `${name}.key`);
  execFileSync('openssl', [
    'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
    '-keyout', key, '-out', cert, '-days', '1', '-subj', `/CN=${name}`,
    '-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost',
  ], { stdio: 'ignore' });
  return { cert, key };
}

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'cloudterm-client-tls-'));
  const { cert, key } = makeCertificate('gateway');
  certFile = cert;
  gw = await startGatewayFixture({ args: ['--tls-cert', cert, '--tls-key', key] });
  home = await makeClientHome();
});
after(async () => {
  await home?.remove();
  await gw?.stop();
  await rm(dir, { recursive: true, force: true });
});

test('an untrusted certificate: refused, saying how to trust it; nothing stored', async () => {
  assert.match(gw.url, /^https:/);
  const login = await home.run(['login', gw.url, '--user', 'alice'], `${PASSWORDS.alice}\n`);
  assert.equal(login.code, ClientErrors.unreachable.exit);
  assert.match(login.stderr, /its TLS certificate is not trusted \(it is self-signed\)\. If this is the right gateway, give the CA that signed its certificate with --ca-file FILE/);
  const other = makeCertificate('other').cert;
  const wrongCa = await home.run(['login', gw.url, '--user', 'alice', '--ca-file', other], `${PASSWORDS.alice}\n`);
  assert.equal(wrongCa.code, ClientErrors.unreachable.exit);
  assert.match(wrongCa.stderr, /not trusted/);
  const missing = await home.run(['login', gw.url, '--ca-file', join(dir, 'nope.pem')]);
  assert.equal(missing.code, ClientErrors.usage.exit);
  assert.match(missing.stderr, /--ca-file .*nope\.pem: ENOENT/);
  assert.equal((await home.run(['sessions'])).code, ClientErrors.refused.exit, 'not logged in');
});

test('with --ca-file: log in, the CA is remembered, attach over wss://', async () => {
  const login = await home.run(['login', gw.url, '--user', 'alice', '--ca-file', certFile], `${PASSWORDS.alice}\n`);
  assert.equal(login.code, 0, login.stderr);
  const created = await home.run(['new', '--name', 'secure']);
  assert.equal(created.code, 0, created.stderr);
  const terminal = home.terminal(['attach', 'secure']);
  await terminal.waitFor(/[$#] $/, { timeoutMs: 20_000 });
  terminal.type('echo "over ""tls"\r');
  await terminal.waitFor('over tls\r\n');
  terminal.type('exit 5\r');
  const finished = await terminal.finished();
  assert.equal(finished.status, 5);
  assert.equal(finished.sttyAfter, finished.sttyBefore);
});
