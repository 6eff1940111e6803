// Key pairs given as files (shared deployments): a good pair loads and works; the problems a
// person can make are reported as configuration errors naming the flag and the file.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CompactSign, compactVerify } from 'jose';
import { SIGNING_ALG, generateSigningKeyPair, loadKeyPairFiles } from '../../core/src/keys/index.js';
import { ConfigError } from '../../core/src/config/options.js';

let dir: string;
const flags = { privateFlag: 'token-key-file', publicFlag: 'token-public-key-file' };

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'cloudterm-keys-'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function pairFiles(name: string): Promise<{ privateKeyFile: string; publicKeyFile: string }> {
  const pair = await generateSigningKeyPair();
  const privateKeyFile = join(dir, `${name}.key`);
  const publicKeyFile = join(dir, `${name}.pub`);
  await writeFile(privateKeyFile, pair.privateKeyPem);
  await writeFile(publicKeyFile, pair.publicKeyPem);
  return { privateKeyFile, publicKeyFile };
}

test('a pair given as files loads, and what its private key signs its public key verifies', async () => {
  const files = await pairFiles('good');
  const pair = await loadKeyPairFiles({ ...files, ...flags });
  const signed = await new CompactSign(new TextEncoder().encode('hello')).setProtectedHeader({ alg: SIGNING_ALG }).sign(pair.privateKey);
  const { payload } = await compactVerify(signed, pair.publicKey);
  assert.equal(new TextDecoder().decode(payload), 'hello');
  assert.match(pair.publicKeyPem, /^-----BEGIN PUBLIC KEY-----/);
});

test('halves of two different pairs are refused, naming both files', async () => {
  const [a, b] = await Promise.all([pairFiles('a'), pairFiles('b')]);
  await assert.rejects(loadKeyPairFiles({ privateKeyFile: a.privateKeyFile, publicKeyFile: b.publicKeyFile, ...flags }), (error: ConfigError) => {
    assert.ok(error instanceof ConfigError);
    assert.deepEqual(error.problems, [`--token-public-key-file ${b.publicKeyFile} is not the public key of --token-key-file ${a.privateKeyFile}`]);
    return true;
  });
});

test('a public key where the private key belongs, and the reverse: both named', async () => {
  const files = await pairFiles('swapped');
  await assert.rejects(loadKeyPairFiles({ privateKeyFile: files.publicKeyFile, publicKeyFile: files.privateKeyFile, ...flags }), (error: ConfigError) => {
    assert.equal(error.problems.length, 2);
    assert.match(error.problems[0]!, /--token-key-file .*swapped\.pub: not an ES256 private key/);
    assert.match(error.problems[1]!, /--token-public-key-file .*swapped\.key: not an ES256 public key/);
    return true;
  });
});
