// The terminal host's launch contract: what hostArgs writes (local mode's pool) is what the host's
// config loader reads back; a host listens on a unix socket only, since its control routes take no token.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { hostArgs } from '../../../agent/src/index.js';
import { loadHostConfig } from '../../../agent/src/host-config.js';
import { generateSigningKeyPair } from '../../../core/src/keys/index.js';
import { ConfigError } from '../../../core/src/config/options.js';

const ENV = { PATH: '/usr/local/bin:/usr/bin:/bin', HOME: '/' };

async function keyFile(t: { after(fn: () => Promise<void>): void }): Promise<{ dir: string; file: string; pem: string }> {
  const dir = await mkdtemp(join(tmpdir(), 'cloudterm-host-launch-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const { publicKeyPem } = await generateSigningKeyPair();
  const file = join(dir, 'attach.pub');
  await writeFile(file, publicKeyPem);
  return { dir, file, pem: publicKeyPem };
}

test('what hostArgs writes reads back through loadHostConfig as it was given', async (t) => {
  const { dir, file, pem } = await keyFile(t);
  const config = loadHostConfig(
    hostArgs({ socketPath: join(dir, 'host-0.sock'), publicKeyFile: file, recordDir: dir, maxTerminals: 7, exitWhenIdle: true, command: ['/bin/sh', '-c', 'echo hi'] }),
    ENV,
  );
  assert.equal(config.socketPath, join(dir, 'host-0.sock'));
  assert.equal(config.publicKeyPem, pem);
  assert.equal(config.recordDir, dir);
  assert.equal(config.maxTerminals, 7);
  assert.equal(config.exitWhenIdle, true);
  assert.equal(config.command, '/bin/sh');
  assert.deepEqual(config.args, ['-c', 'echo hi']);
  // Per-terminal settings default as the agent's do.
  assert.equal(config.ringBytes, 1024 * 1024);
  const defaults = loadHostConfig(hostArgs({ socketPath: join(dir, 'h.sock'), publicKeyFile: file }), ENV);
  assert.equal(defaults.exitWhenIdle, false);
  assert.equal(defaults.recordDir, null);
});

test('a host refuses a TCP address, a missing --listen and a record directory that is not one, all at once', async (t) => {
  const { file } = await keyFile(t);
  assert.throws(
    () => loadHostConfig(['--listen', '127.0.0.1:7681', '--public-key-file', file, '--record-dir', file], ENV),
    (error: ConfigError) => {
      assert.ok(error.problems.some((p) => /unix socket only/.test(p)), error.message);
      assert.ok(error.problems.some((p) => p.startsWith('--record-dir')), error.message);
      return true;
    },
  );
  assert.throws(() => loadHostConfig(['--public-key-file', file], ENV), (error: ConfigError) => error.problems.some((p) => p === '--listen: is required'));
});
