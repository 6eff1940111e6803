// Defaults of the gateway's configuration that depend on the machine.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { attachmentsForFileLimit, gatewayOptionSpecs, loadGatewayConfig } from '../../gateway/src/config/gateway-config.js';
import { ConfigError } from '../../core/src/config/options.js';

const base = ['--data-dir', '/tmp/cloudterm-config-test'];

test('attachments default to what the open-files limit allows: two descriptors each, 1024 (or a quarter) kept for the rest', () => {
  assert.equal(attachmentsForFileLimit(20_000), 9_488);
  assert.equal(attachmentsForFileLimit(1_048_576), 523_776);
  assert.equal(attachmentsForFileLimit(1_024), 384, 'a small limit still holds attachments');
  assert.equal(attachmentsForFileLimit(3), 1);
  assert.equal(attachmentsForFileLimit(Number.POSITIVE_INFINITY), Number.MAX_SAFE_INTEGER);
  const limit = /^Max open files\s+(\d+)/m.exec(readFileSync('/proc/self/limits', 'utf8'))?.[1];
  assert.ok(limit, 'this test runs where the open-files limit is known');
  assert.equal(loadGatewayConfig('local', base, {}).maxAttachments, attachmentsForFileLimit(Number(limit)));
});

test("--max-attachments and CLOUDTERM_GATEWAY_MAX_ATTACHMENTS set it (not the agents' variable); 0 and words are refused", () => {
  assert.equal(loadGatewayConfig('local', [...base, '--max-attachments', '50000'], {}).maxAttachments, 50_000);
  assert.equal(loadGatewayConfig('local', base, { CLOUDTERM_GATEWAY_MAX_ATTACHMENTS: '7' }).maxAttachments, 7);
  // The agents' own limit (one terminal's viewers) is another setting: it does not cap the gateway.
  assert.notEqual(loadGatewayConfig('local', base, { CLOUDTERM_AGENT_MAX_ATTACHMENTS: '7' }).maxAttachments, 7);
  for (const bad of ['0', 'many']) {
    assert.throws(() => loadGatewayConfig('local', [...base, '--max-attachments', bad], {}), (error: unknown) => {
      assert.ok(error instanceof ConfigError);
      assert.match(error.message, /--max-attachments/);
      return true;
    });
  }
});

test('every gateway variable is CLOUDTERM_GATEWAY_*; one still set under its old name is refused, naming the new one', () => {
  for (const spec of Object.values(gatewayOptionSpecs)) {
    // --stop-terminals has no variable on purpose: one left set would turn every start into a stop.
    if (spec.flag === 'stop-terminals') assert.ok(!('env' in spec));
    else assert.match(spec.env, /^CLOUDTERM_GATEWAY_/, `--${spec.flag}`);
  }
  assert.throws(() => loadGatewayConfig('local', base, { CLOUDTERM_LISTEN: '127.0.0.1:9000', CLOUDTERM_REDIS_URL: 'redis://x' }), (error: unknown) => {
    assert.ok(error instanceof ConfigError);
    assert.deepEqual(error.problems, [
      'CLOUDTERM_LISTEN is no longer read: set CLOUDTERM_GATEWAY_LISTEN instead',
      'CLOUDTERM_REDIS_URL is no longer read: set CLOUDTERM_GATEWAY_REDIS_URL instead',
    ]);
    return true;
  });
  assert.deepEqual(loadGatewayConfig('local', base, { CLOUDTERM_GATEWAY_LISTEN: '127.0.0.1:9000' }).listen, { host: '127.0.0.1', port: 9000 });
});

test('defaults come from the option specs and the mode', () => {
  const local = loadGatewayConfig('local', base, {});
  const shared = loadGatewayConfig('gateway', [...base, '--users-file', '/dev/null', '--token-key-file', 'a', '--token-public-key-file', 'b', '--attach-key-file', 'c', '--attach-public-key-file', 'd'], {});
  assert.deepEqual([local.listen, local.defaultTenant], [{ host: '127.0.0.1', port: 8080 }, 'local']);
  assert.deepEqual([shared.listen, shared.defaultTenant], [{ host: '0.0.0.0', port: 8080 }, 'default']);
  assert.equal(local.maxSessionsPerUser, gatewayOptionSpecs.maxSessionsPerUser.default);
  assert.equal(local.idleTimeoutMs, gatewayOptionSpecs.idleTimeout.default * 1000);
  assert.equal(local.redisKeyPrefix, 'cloudterm:');
});

test('compression is on unless --compression=false or CLOUDTERM_GATEWAY_COMPRESSION=false says otherwise', () => {
  assert.equal(loadGatewayConfig('local', base, {}).compression, true);
  assert.equal(loadGatewayConfig('local', [...base, '--compression=false'], {}).compression, false);
  assert.equal(loadGatewayConfig('local', base, { CLOUDTERM_GATEWAY_COMPRESSION: 'false' }).compression, false);
  assert.throws(() => loadGatewayConfig('local', [...base, '--compression=maybe'], {}), /--compression must be true or false/);
});
