// `npm run bench -- operator [--sessions N]`: N TerminalSessions created at once on the rig (a real
// k3s control plane, the rig kubelet in its light mode: pods go Running with their own address but
// run no process), the operator in this process. Measures the time until every session is Ready,
// reconciles per second, API requests per session (the operator's own, from the control plane's
// audit log) and the operator's RSS and CPU. In light mode no agent answers, so one small server
// on every loopback address answers the agents' GET /status for all of them (on a port of its own,
// the operator's --agent-port): the operator does all its work, only the PTYs are missing.
import { createServer } from 'node:http';
import { once } from 'node:events';
import { cpus } from 'node:os';
import { parseArgs } from 'node:util';
import { KubeConfig } from '@kubernetes/client-node';
import { sharedControlPlane, startKubelet } from '../test/kube/index.js';
import { operatorKubelet, operatorRig, pinTo, runOperator, tenantNamespace } from '../test/helpers/operator-fixture.js';
import { TestClient } from '../test/helpers/agent-client.js';
import { signAttachToken } from '../core/src/index.js';
import { KubeClient } from '../operator/src/kube/client.js';
import type { TerminalSession } from '../operator/src/api/index.js';

const STUB_PORT = 17681;

export async function run(argv: readonly string[]): Promise<number> {
  const { values } = parseArgs({ args: [...argv], options: { sessions: { type: 'string', default: '1000' }, concurrency: { type: 'string', default: '16' }, prompt: { type: 'string' } } });
  if (values.prompt) return promptLatency(Number(values.prompt));
  const sessions = Number(values.sessions);
  const cleanups: Array<() => unknown> = [];
  const hook = { after: (fn: () => unknown) => cleanups.unshift(fn) };
  try {
    const status = createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ sessionId: 'bench', startedAt: new Date(Date.now() - 1000).toISOString(), lastInputAt: null, lastOutputAt: null, attachments: 0 }));
    });
    status.listen(STUB_PORT, '0.0.0.0');
    await once(status, 'listening');
    cleanups.push(() => status.close());

    const plane = await sharedControlPlane();
    // A kubelet takes about a hundred pods (its own /24 of loopback addresses, and a real node's
    // default): as many light kubelets as that needs, all untainted, on this benchmark's own plane.
    const kubelets = await Promise.all(Array.from({ length: Math.ceil(sessions / 100) }, () => startKubelet(plane, { light: true, taint: false, maxPods: 110 })));
    for (const kubelet of kubelets) hook.after(() => kubelet.stop());
    const rig = await operatorRig(hook, plane);
    const ns = await tenantNamespace(hook, rig);
    const operator = await runOperator(hook, rig, ['--agent-port', String(STUB_PORT), '--concurrency', values.concurrency!, '--activity-poll', '60', '--lease-duration', '15']);
    while (!operator.isLeader() || !operator.ready()) await new Promise((resolve) => setTimeout(resolve, 100));

    const admin = new KubeConfig();
    admin.loadFromFile(plane.kubeconfigPath);
    const client = new KubeClient(admin, 'cloudterm-bench');
    const path = `/apis/cloudterm.io/v1alpha1/namespaces/${ns}/terminalsessions`;
    const cpuBefore = process.cpuUsage();
    const started = performance.now();
    const reconcilesBefore = count(operator.metrics.registry.render(), 'cloudterm_operator_reconciles_total');
    let next = 0;
    await Promise.all(
      Array.from({ length: 32 }, async () => {
        while (next < sessions) {
          const i = next++;
          await client.create(path, { apiVersion: 'cloudterm.io/v1alpha1', kind: 'TerminalSession', metadata: { name: `bench-${i}` }, spec: { owner: 'bench' } });
        }
      }),
    );
    const createdMs = performance.now() - started;
    let rssPeak = 0;
    for (;;) {
      rssPeak = Math.max(rssPeak, process.memoryUsage().rss);
      const list = await client.get<{ items: TerminalSession[] }>(path);
      const ready = list.items.filter((s) => s.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True')).length;
      if (ready === sessions) break;
      if (performance.now() - started > 300_000) throw new Error(`only ${ready} of ${sessions} Ready after 300 s`);
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
    const readyMs = performance.now() - started;
    const cpu = process.cpuUsage(cpuBefore);
    const reconciles = count(operator.metrics.registry.render(), 'cloudterm_operator_reconciles_total') - reconcilesBefore;
    const operatorUser = rig.identity.user;
    const calls = plane.auditLog().filter((e) => e.user === operatorUser && e.namespace === ns);
    const byVerb = new Map<string, number>();
    for (const call of calls) byVerb.set(`${call.verb} ${call.resource}${call.subresource ? `/${call.subresource}` : ''}`, (byVerb.get(`${call.verb} ${call.resource}${call.subresource ? `/${call.subresource}` : ''}`) ?? 0) + 1);
    client.close();

    const rows: Array<[string, string]> = [
      ['sessions', String(sessions)],
      ['created (all POSTs answered)', `${(createdMs / 1000).toFixed(1)} s`],
      ['all Ready', `${(readyMs / 1000).toFixed(1)} s`],
      ['reconciles', `${reconciles} (${(reconciles / (readyMs / 1000)).toFixed(0)}/s)`],
      ['operator API requests per session', (calls.length / sessions).toFixed(2)],
      ...[...byVerb].sort((a, b) => b[1] - a[1]).map(([what, n]): [string, string] => [`  ${what}`, (n / sessions).toFixed(2)]),
      ['process RSS peak (operator + bench client)', `${(rssPeak / 1024 / 1024).toFixed(0)} MiB`],
      ['process CPU (operator + bench client)', `${((cpu.user + cpu.system) / 1e6).toFixed(1)} s (${(((cpu.user + cpu.system) / 1e3 / readyMs) * 100).toFixed(0)}% of one core)`],
      ['machine', `${cpus().length} × ${cpus()[0]?.model ?? '?'}, Node ${process.version}`],
    ];
    const width = Math.max(...rows.map(([k]) => k.length));
    process.stdout.write(`${rows.map(([k, v]) => `${k.padEnd(width)}  ${v}`).join('\n')}\n`);
    return 0;
  } finally {
    for (const fn of cleanups) await fn();
  }
}

function count(text: string, name: string): number {
  return [...text.matchAll(new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)$`, 'gm'))].reduce((sum, m) => sum + Number(m[1]), 0);
}

/**
 * `--prompt N`: N sessions one after another with a real agent (the rig kubelet in its full mode):
 * the time from the create request to the shell's first output through an attach.
 */
async function promptLatency(rounds: number): Promise<number> {
  const cleanups: Array<() => unknown> = [];
  const hook = { after: (fn: () => unknown) => cleanups.unshift(fn) };
  try {
    const plane = await sharedControlPlane();
    const kubelet = await operatorKubelet(plane);
    const rig = await operatorRig(hook, plane);
    const ns = await tenantNamespace(hook, rig);
    const operator = await runOperator(hook, rig, [...pinTo(kubelet), '--lease-duration', '15']);
    while (!operator.isLeader() || !operator.ready()) await new Promise((resolve) => setTimeout(resolve, 100));
    const admin = new KubeConfig();
    admin.loadFromFile(plane.kubeconfigPath);
    const client = new KubeClient(admin, 'cloudterm-bench');
    const path = `/apis/cloudterm.io/v1alpha1/namespaces/${ns}/terminalsessions`;
    const times: number[] = [];
    for (let i = 0; i < rounds; i += 1) {
      const started = performance.now();
      const created = await client.create<TerminalSession>(path, { apiVersion: 'cloudterm.io/v1alpha1', kind: 'TerminalSession', metadata: { name: `prompt-${i}` }, spec: { owner: 'bench' } });
      let session: TerminalSession;
      for (;;) {
        session = await client.get<TerminalSession>(`${path}/prompt-${i}`);
        if (session.status?.phase === 'Running' && session.status.endpoint) break;
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      const token = await signAttachToken(rig.privateKey, { sessionId: created.metadata.uid!, user: 'bench', role: 'rw' });
      const terminal = await TestClient.connect({ url: `${session.status!.endpoint!.replace(/^http/, 'ws')}/attach`, headers: { authorization: `Bearer ${token}` } });
      await terminal.waitFor(() => terminal.output().length > 0, 'the first prompt', 10_000);
      times.push(performance.now() - started);
      await terminal.close();
      await client.delete(`${path}/prompt-${i}`);
    }
    client.close();
    const sorted = [...times].sort((a, b) => a - b);
    const pick = (q: number) => sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)]!;
    process.stdout.write(`create → first prompt, ${rounds} sessions: p50 ${pick(0.5).toFixed(0)} ms, p99 ${pick(0.99).toFixed(0)} ms, min ${sorted[0]!.toFixed(0)} ms, max ${sorted.at(-1)!.toFixed(0)} ms\n`);
    return 0;
  } finally {
    for (const fn of cleanups) await fn();
  }
}
