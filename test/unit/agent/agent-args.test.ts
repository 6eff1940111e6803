// The one launch contract: what agentArgs writes for a launch is what the agent's own config
// loader reads back, so the local backend (and the operator's pod) cannot drift from the agent's
// options. Its defaults live in the option specs, and --help shows them.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { agentArgs, agentOptionSpecs, loadAgentConfig, type AgentLaunch } from '../../../agent/src/index.js';
import { AGENT_USAGE } from '../../../agent/src/agent-config.js';
import { generateSigningKeyPair } from '../../../core/src/keys/index.js';
import { ConfigError } from '../../../core/src/config/options.js';

async function keyFile(t: { after(fn: () => Promise<void>): void }): Promise<{ dir: string; file: string; pem: string }> {
  const dir = await mkdtemp(join(tmpdir(), 'cloudterm-launch-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const { publicKeyPem } = await generateSigningKeyPair();
  const file = join(dir, 'attach.pub');
  await writeFile(file, publicKeyPem);
  return { dir, file, pem: publicKeyPem };
}

const ENV = { PATH: '/usr/local/bin:/usr/bin:/bin', HOME: '/' };

test('every option a launch sets reads back through loadAgentConfig as it was given', async (t) => {
  const { dir, file, pem } = await keyFile(t);
  const launch: AgentLaunch = {
    sessionId: 'abc123',
    listen: { path: join(dir, 'abc123.sock') },
    publicKeyFile: file,
    ringBytes: 256 * 1024,
    record: join(dir, 'abc123.cast'),
    cols: 132,
    rows: 43,
    cwd: dir,
    resumeWindow: 0,
    maxAttachments: 3,
    command: ['/bin/sh', '-c', 'echo "two words"; exit 3'],
  };
  const config = loadAgentConfig(agentArgs(launch), ENV);
  assert.equal(config.sessionId, 'abc123');
  assert.deepEqual(config.listen, launch.listen);
  assert.equal(config.publicKeyPem, pem);
  assert.equal(config.ringBytes, 256 * 1024);
  assert.equal(config.recordPath, launch.record);
  assert.equal(config.cols, 132);
  assert.equal(config.rows, 43);
  assert.equal(config.cwd, dir);
  assert.equal(config.resumeWindowMs, 0);
  assert.equal(config.maxAttachments, 3);
  assert.deepEqual([config.command, ...config.args], launch.command, 'the command and its arguments, spaces and all');
});

test('what a launch leaves out is the option specs\' default; a TCP listen address round-trips too', async (t) => {
  const { file } = await keyFile(t);
  const config = loadAgentConfig(agentArgs({ sessionId: 's', listen: { host: '::1', port: 7681 }, publicKeyFile: file }), ENV);
  assert.deepEqual(config.listen, { host: '::1', port: 7681 });
  assert.equal(config.cols, agentOptionSpecs.cols.default);
  assert.equal(config.rows, agentOptionSpecs.rows.default);
  assert.equal(config.ringBytes, agentOptionSpecs.ringBytes.default);
  assert.equal(config.maxAttachments, agentOptionSpecs.maxAttachments.default);
  assert.equal(config.resumeWindowMs, agentOptionSpecs.resumeWindow.default * 1000);
  assert.equal(config.recordPath, null);
  assert.ok(config.command.length > 0, 'the login shell when no command is given');
});

test('--help shows each default from its spec, sizes in Ki/Mi', () => {
  assert.match(AGENT_USAGE, /--ring-bytes .*\(default 1Mi\)/);
  assert.match(AGENT_USAGE, /--max-attachments .*\(default 256\)/);
  assert.match(AGENT_USAGE, /--listen .*\(default 127\.0\.0\.1:7681\)/);
});

test('the agent reads only CLOUDTERM_AGENT_* variables: the gateway\'s never reconfigure it', async (t) => {
  const { file } = await keyFile(t);
  const launch = agentArgs({ sessionId: 's', listen: { host: '127.0.0.1', port: 0 }, publicKeyFile: file });
  assert.equal(loadAgentConfig(launch, { ...ENV, CLOUDTERM_AGENT_MAX_ATTACHMENTS: '5' }).maxAttachments, 5);
  assert.equal(loadAgentConfig(launch, { ...ENV, CLOUDTERM_GATEWAY_MAX_ATTACHMENTS: '5' }).maxAttachments, 256);
  // A variable from before the prefix is a clear error, not a setting silently ignored.
  assert.throws(() => loadAgentConfig(launch, { ...ENV, CLOUDTERM_MAX_ATTACHMENTS: '5' }), (error: unknown) => {
    assert.ok(error instanceof ConfigError);
    assert.deepEqual(error.problems, ['CLOUDTERM_MAX_ATTACHMENTS is no longer read: set CLOUDTERM_AGENT_MAX_ATTACHMENTS instead']);
    return true;
  });
  for (const spec of Object.values(agentOptionSpecs)) {
    if ('env' in spec) assert.match(spec.env, /^CLOUDTERM_AGENT_/, `--${spec.flag}`);
  }
});
