// Defaults of the gateway's configuration that depend on the machine.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { attachmentsForFileLimit, loadGatewayConfig } from '../../gateway/src/config/gateway-config.js';
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
