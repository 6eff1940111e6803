// Watches cut mid-stream (every connection to the API server destroyed, new ones refused for a
// while) are recovered: the informers relist and resume, and what happened during the cut is
// acted on — a session created while the operator was cut off gets its pod.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { V1Pod } from '@kubernetes/client-node';
import { applySession, eventually, getJson, kubeconfigVia, operatorRig, runOperator, tenantNamespace } from '../../helpers/operator-fixture.js';
import { cuttableProxy } from '../../helpers/cuttable-proxy.js';

test('a watch cut mid-stream is recovered, and a session created during the cut gets its pod', async (t) => {
  const rig = await operatorRig(t);
  const ns = await tenantNamespace(t, rig);
  const proxy = await cuttableProxy(new URL(rig.plane.server));
  t.after(() => proxy.close());
  const operator = await runOperator(t, rig, ['--kubeconfig', await kubeconfigVia(rig, proxy.url), '--watch-timeout', '60', '--lease-duration', '15']);
  await eventually('the leader', async () => operator.isLeader() && operator.ready());
  await applySession(rig.plane, ns, 'before');
  await eventually('the pod of before', () => getJson<V1Pod>(rig.plane, ['pod', 'cloudterm-before', '-n', ns]));
  const listsBefore = operator.caches.sessions.lists;

  proxy.cut(2500);
  assert.ok(proxy.cutConnections > 0, 'watches were open and were cut');
  await applySession(rig.plane, ns, 'during');
  await eventually('the pod of during', () => getJson<V1Pod>(rig.plane, ['pod', 'cloudterm-during', '-n', ns]), 45_000);
  assert.ok(operator.caches.sessions.lists > listsBefore, 'the session informer relisted after its watch failed');
  assert.equal(operator.isLeader(), true, 'the Lease was renewed in time (cut shorter than the renew deadline)');

  // And the cache is whole again: a later change still arrives by watch.
  await applySession(rig.plane, ns, 'after');
  await eventually('the pod of after', () => getJson<V1Pod>(rig.plane, ['pod', 'cloudterm-after', '-n', ns]));
});
