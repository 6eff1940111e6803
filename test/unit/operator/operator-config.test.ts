// `cloudterm operator`'s configuration: defaults from the specs, CLOUDTERM_OPERATOR_* variables,
// flags winning, and every problem reported at once.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError } from '../../../core/src/index.js';
import { loadOperatorConfig, parseLabels } from '../../../operator/src/config.js';

test('defaults, variables and flags', () => {
  const config = loadOperatorConfig(['--concurrency', '3'], {
    CLOUDTERM_OPERATOR_KUBECONFIG: '/k',
    CLOUDTERM_OPERATOR_ATTACH_PUBLIC_KEY_FILE: '/key.pem',
    CLOUDTERM_OPERATOR_CONCURRENCY: '5',
    CLOUDTERM_OPERATOR_GRANTABLE_ROLES: 'ClusterRole/view,Role/deployer',
    POD_NAMESPACE: 'cloudterm-system',
  });
  assert.equal(config.concurrency, 3, 'the flag wins');
  assert.equal(config.kubeconfig, '/k');
  assert.deepEqual(config.listen, { host: '0.0.0.0', port: 8080 });
  assert.deepEqual(config.grantableRoles, [{ kind: 'ClusterRole', name: 'view' }, { kind: 'Role', name: 'deployer' }]);
  assert.equal(config.lease.namespace, 'cloudterm-system');
  assert.equal(config.lease.durationMs, 15_000);
  assert.equal(config.shellApiServer, 'https://kubernetes.default.svc');
  assert.equal(config.tokenExpirationSeconds, 600);
  assert.deepEqual(config.nodeSelector, {});
});

test('in a cluster, no kubeconfig is needed', () => {
  const config = loadOperatorConfig(['--attach-public-key-file', '/key.pem'], { KUBERNETES_SERVICE_HOST: '10.0.0.1' });
  assert.equal(config.kubeconfig, null);
});

test('every problem is reported together', () => {
  assert.throws(
    () => loadOperatorConfig(['--grantable-roles', 'view', '--token-expiration', '60', '--shell-api-server', 'http://x', '--node-selector', 'a', '--bogus'], {}),
    (error: unknown) => {
      assert.ok(error instanceof ConfigError);
      const text = error.problems.join('\n');
      for (const expected of [/unknown argument "--bogus"/, /--grantable-roles: "view" is not Role\/<name> or ClusterRole\/<name>/, /--token-expiration must be between 600 and 86400/, /--attach-public-key-file .* is required/, /--kubeconfig .* is required outside a cluster/, /--shell-api-server must be an https:\/\/ URL/, /--node-selector: "a" is not key=value/]) {
        assert.match(text, expected);
      }
      return true;
    },
  );
});

test('label lists (node and namespace selectors)', () => {
  assert.deepEqual(parseLabels('pool=terminals, kubernetes.io/os=linux'), { pool: 'terminals', 'kubernetes.io/os': 'linux' });
  assert.deepEqual(parseLabels(''), {});
  assert.match(parseLabels('x=y=z') as string, /not key=value/);
});
