// Churn: many TerminalSessions created and deleted at random moments of their setup (before the
// pod exists, while it starts, once the agent runs) leave no orphaned pod, Secret, ServiceAccount,
// RoleBinding or agent process. Scaled to CI time with CLOUDTERM_CHURN_SESSIONS (default 60; the
// issue's figure is 200). 200 does not fit as written (tried 2026-12-06, load average 4 → 25): the
// 200 `kubectl create`s at once each download the OpenAPI document for client-side validation, and
// after 2 minutes they failed with "failed to download openapi: context deadline exceeded".
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { kubectl } from '../kube/index.js';
import { eventually, operatorKubelet, operatorRig, pinTo, runOperator, sessionManifest, tenantNamespace } from '../helpers/operator-fixture.js';

const SESSIONS = Number(process.env.CLOUDTERM_CHURN_SESSIONS ?? 60);

/** PIDs of agent processes serving one of `uids` (their argv carries --session-id <uid>). */
function agentProcesses(uids: ReadonlySet<string>): number[] {
  const found: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let argv: string[];
    try {
      argv = readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0');
    } catch {
      continue;
    }
    const at = argv.indexOf('--session-id');
    if (at >= 0 && uids.has(argv[at + 1] ?? '')) found.push(Number(entry));
  }
  return found;
}

test(`churn: ${SESSIONS} sessions created and deleted at random moments leave no orphaned pod or process`, async (t) => {
  const rig = await operatorRig(t);
  const kubelet = await operatorKubelet(rig.plane);
  const ns = await tenantNamespace(t, rig);
  await runOperator(t, rig, [...pinTo(kubelet), '--concurrency', '8']);
  const names = Array.from({ length: SESSIONS }, (_, i) => `churn-${i}`);
  const uids = new Set<string>();
  const sawRunning = new Set<string>();

  await Promise.all(
    names.map(async (name, i) => {
      // Spread the creations over a few seconds.
      await new Promise((resolve) => setTimeout(resolve, (i % 20) * 150));
      const access = i % 3 === 0 ? { access: { role: { kind: 'ClusterRole' as const, name: 'view' } } } : {};
      const created = await kubectl(['create', '-f', '-', '-o', 'jsonpath={.metadata.uid}'], { kubeconfig: rig.plane, input: sessionManifest(ns, name, access) });
      uids.add(created.stdout.trim());
      if (i % 4 === 0) {
        // A quarter once their agent runs; the rest at a random moment of their setup.
        await eventually(`${name} Running`, async () => (await kubectl(['get', 'ts', name, '-n', ns, '-o', 'jsonpath={.status.phase}'], { kubeconfig: rig.plane })).stdout === 'Running', 150_000, 500);
        sawRunning.add(name);
      } else {
        await new Promise((resolve) => setTimeout(resolve, Math.random() * 10_000));
      }
      await kubectl(['delete', 'ts', name, '-n', ns, '--wait=false'], { kubeconfig: rig.plane });
    }),
  );
  assert.equal(uids.size, SESSIONS);

  await eventually('no TerminalSession, pod, Secret, ServiceAccount or RoleBinding left', async () => {
    const { stdout } = await kubectl(['get', 'terminalsessions,pods,secrets,serviceaccounts,rolebindings', '-n', ns, '-l', 'app.kubernetes.io/managed-by=cloudterm-operator', '-o', 'name'], { kubeconfig: rig.plane });
    const { stdout: sessions } = await kubectl(['get', 'terminalsessions', '-n', ns, '-o', 'name'], { kubeconfig: rig.plane });
    return stdout.trim() === '' && sessions.trim() === '';
  }, 120_000, 1000);
  await eventually('no agent process of a churned session', async () => agentProcesses(uids).length === 0, 60_000, 500);
  t.diagnostic(`${sawRunning.size} of ${SESSIONS} were deleted once running, the rest during their setup`);
});
