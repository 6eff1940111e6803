// A fresh namespace per test, deleted when the test ends: tests on the shared control plane never
// see each other's objects.
import { randomBytes } from 'node:crypto';
import { CoreV1Api } from '@kubernetes/client-node';
import type { ControlPlane } from './control-plane.js';

/** What node:test's TestContext (or a suite's) offers for cleanup. */
export interface AfterHook {
  after(fn: () => unknown): void;
}

/**
 * Creates `<prefix>-<random>` and deletes it in `t.after`. Resolves once its `default`
 * ServiceAccount exists (pods are refused without it).
 */
export async function testNamespace(t: AfterHook, plane: ControlPlane, prefix = 'test'): Promise<string> {
  const name = `${prefix}-${randomBytes(4).toString('hex')}`;
  const core = plane.kubeConfig.makeApiClient(CoreV1Api);
  await core.createNamespace({ body: { metadata: { name, labels: { 'cloudterm.io/test': 'true' } } } });
  t.after(() => core.deleteNamespace({ name }).catch(() => undefined));
  const deadline = Date.now() + 30_000;
  while (!(await core.readNamespacedServiceAccount({ name: 'default', namespace: name }).then(() => true, () => false))) {
    if (Date.now() > deadline) throw new Error(`namespace ${name}: no default ServiceAccount after 30 s (is the controller manager running?)`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return name;
}
