// HTTPS served by the gateway itself (--tls-cert, --tls-key), with certificates made by the real
// openssl: log in and get a Secure cookie, attach over wss:// and type through the splice; a
// plain-HTTP client on the HTTPS port changes nothing for anyone else; and every bad certificate
// or key stops the start with what is wrong.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { request as httpsRequest } from 'node:https';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PASSWORDS, SELF_COMMAND, startGatewayFixture, type GatewayFixture } from '../../helpers/gateway-fixture.js';
import { TestClient } from '../../helpers/agent-client.js';
import { loadGatewayConfig } from '../../../gateway/src/config/gateway-config.js';
import { ConfigError } from '../../../core/src/config/options.js';
import { loadTlsMaterial } from '../../../gateway/src/http/tls.js';

let dir: string;
let certFile: string;
let keyFile: string;
let otherKeyFile: string;
let ca: Buffer;

/** A self-signed certificate for 127.0.0.1 and localhost, valid for a day. */
function makeCertificate(name: string, commonName: string): { cert: string; key: string } {
  const cert = join(dir, `${name}.crt`);
  const key = join(dir, `${name}.key`);
  execFileSync('openssl', [
    'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
    '-keyout', key, '-out', cert, '-days', '1', '-subj', `/CN=${commonName}`,
    '-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost',
  ], { stdio: 'ignore' });
  return { cert, key };
}

interface HttpsAnswer {
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly body: any;
}

/** One HTTPS request trusting only the test's certificate (fetch cannot be given a CA). */
function https(method: string, url: string, body?: unknown, headers: Record<string, string> = {}): Promise<HttpsAnswer> {
  return new Promise((resolve, reject) => {
    const payload = body === undefined ? undefined : JSON.stringify(body);
    const req = httpsRequest(url, { method, ca, headers: { ...(payload ? { 'content-type': 'application/json' } : {}), ...headers } }, (res) => {
      let text = '';
      res.on('data', (chunk: Buffer) => (text += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text ? JSON.parse(text) : null }));
    });
    req.on('error', reject);
    req.end(payload);
  });
}

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'cloudterm-tls-'));
  ({ cert: certFile, key: keyFile } = makeCertificate('gateway', 'localhost'));
  otherKeyFile = makeCertificate('other', 'other').key;
  ca = await readFile(certFile);
});

after(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('HTTPS served by the gateway', () => {
  let fixture: GatewayFixture;

  before(async () => {
    fixture = await startGatewayFixture({ args: ['--tls-cert', certFile, '--tls-key', keyFile] });
  });

  after(async () => {
    await fixture?.stop();
  });

  test('log in over HTTPS: the cookie is Secure; attach over wss:// and type through the splice', async () => {
    assert.match(fixture.url, /^https:\/\/127\.0\.0\.1:\d+$/);
    const login = await https('POST', `${fixture.url}/api/login`, { username: 'alice', password: PASSWORDS.alice });
    assert.equal(login.status, 200);
    const setCookie = String(login.headers['set-cookie']);
    assert.match(setCookie, /; Secure/);
    assert.match(setCookie, /; HttpOnly/);
    const cookie = setCookie.split(';')[0]!;

    const created = await https('POST', `${fixture.url}/api/sessions`, {}, { cookie, origin: fixture.url });
    assert.equal(created.status, 201);
    const terminal = await TestClient.connect({
      url: `${fixture.url.replace('https', 'wss')}/api/sessions/${created.body.id}/attach`,
      headers: { cookie, origin: fixture.url },
      ca,
    });
    terminal.type('echo "over ""tls"\r');
    await terminal.waitForText('over tls\r\n');
    await terminal.close();
    assert.equal((await https('DELETE', `${fixture.url}/api/sessions/${created.body.id}`, undefined, { cookie, origin: fixture.url })).status, 204);
  });

  test('a client speaking plain HTTP to the HTTPS port is dropped; the gateway keeps serving', async () => {
    const port = Number(new URL(fixture.url).port);
    const plain = connect(port, '127.0.0.1');
    plain.end('GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n');
    let answer = '';
    plain.on('data', (chunk: Buffer) => (answer += chunk.toString('latin1')));
    await new Promise((resolve) => plain.on('close', resolve));
    assert.doesNotMatch(answer, /"ok"/, 'no answer in clear text');
    assert.equal((await https('GET', `${fixture.url}/healthz`)).status, 200);
  });

  test('an untrusted certificate is refused by the client, as it should be', async () => {
    await assert.rejects(
      new Promise((resolve, reject) => httpsRequest(`${fixture.url}/healthz`, resolve).on('error', reject).end()),
      (error: NodeJS.ErrnoException) => error.code === 'DEPTH_ZERO_SELF_SIGNED_CERT',
    );
  });
});

describe('bad TLS configuration stops the start, saying what is wrong', () => {
  const problemsOf = async (files: { certFile: string; keyFile: string }, now?: Date): Promise<string> => {
    try {
      await loadTlsMaterial(files, now);
    } catch (error) {
      assert.ok(error instanceof ConfigError, String(error));
      return error.problems.join('\n');
    }
    return 'accepted';
  };

  test('a certificate without a key, or a key without a certificate', () => {
    for (const args of [['--tls-cert', 'c.pem'], ['--tls-key', 'k.pem']]) {
      assert.throws(
        () => loadGatewayConfig('local', args, {}),
        (error: ConfigError) => error.problems.includes('HTTPS needs both --tls-cert and --tls-key'),
      );
    }
  });

  test('missing files are named, both at once', async () => {
    const problems = await problemsOf({ certFile: join(dir, 'nope.crt'), keyFile: join(dir, 'nope.key') });
    assert.match(problems, /--tls-cert .*nope\.crt: no such file/);
    assert.match(problems, /--tls-key .*nope\.key: no such file/);
  });

  test('files that are not PEM', async () => {
    const garbage = join(dir, 'garbage.pem');
    await writeFile(garbage, 'not a certificate\n');
    assert.match(await problemsOf({ certFile: garbage, keyFile }), /--tls-cert .*garbage\.pem: no PEM certificate in it/);
    assert.match(await problemsOf({ certFile, keyFile: garbage }), /--tls-key .*garbage\.pem: no PEM private key in it/);
    assert.match(await problemsOf({ certFile: keyFile, keyFile: certFile }), /no PEM certificate in it[\s\S]*no PEM private key in it/);
  });

  test("a key that is not the certificate's", async () => {
    assert.match(await problemsOf({ certFile, keyFile: otherKeyFile }), /other\.key is not the private key of the certificate in --tls-cert/);
  });

  test('an expired certificate, and one not valid yet', async () => {
    const inTwoDays = new Date(Date.now() + 2 * 86_400_000);
    assert.match(await problemsOf({ certFile, keyFile }, inTwoDays), /the certificate expired on \d{4}-/);
    const yesterday = new Date(Date.now() - 86_400_000);
    assert.match(await problemsOf({ certFile, keyFile }, yesterday), /the certificate is not valid before \d{4}-/);
    assert.equal(await problemsOf({ certFile, keyFile }), 'accepted');
  });

  test('the command exits 2 with the problem in one line, not a stack trace', async () => {
    const [command, ...prefix] = SELF_COMMAND;
    const child = spawn(command!, [...prefix, 'local', '--listen', '127.0.0.1:0', '--data-dir', join(dir, 'data'), '--tls-cert', certFile, '--tls-key', otherKeyFile], {
      env: { PATH: process.env.PATH, HOME: dir },
    });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk));
    const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
    assert.equal(code, 2, stderr);
    assert.match(stderr, /^cloudterm: invalid configuration:\n  - --tls-key .*other\.key is not the private key of the certificate/);
    assert.doesNotMatch(stderr, /\n\s+at /, 'no stack trace');
  });
});
