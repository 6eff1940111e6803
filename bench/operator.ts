// `npm run bench -- operator [--sessions N]`: N TerminalSessions created at once on the rig (a real
// k3s control plane, the rig kubelet in its light mode: pods go Running with their own address but
// run no process), the operator in this process. Measures the time until every session is Ready,
// reconciles per second, API requests per session (the operator's own, from the control plane's
// audit log) and the operator's RSS and CPU. In light mode no agent answers, so one small server
// on every loopback address answers the agents' GET /status for all of them (on a port of its own,
// the operator's --agent-port): the operator does all its work, only the PTYs are missing.
import { createServer } from 'node:http';
import { once } from 'node:events';
import { cpus, loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import { KubeConfig, type V1Pod } from '@kubernetes/client-node';
import { sharedControlPlane, startKubelet, type KubeletProcess } from '../test/kube/index.js';
import { operatorKubelet, operatorRig, pinTo, runOperator, tenantNamespace } from '../test/helpers/operator-fixture.js';
import { TestClient } from '../test/helpers/agent-client.js';
import { signAttachToken } from '../core/src/index.js';
import { KubeClient } from '../operator/src/kube/client.js';
import { Informer } from '../operator/src/kube/informer.js';
import { systemClock } from '../operator/src/controller/clock.js';
import { cpuSeconds, machineCpu } from './lib/processes.js';
import { percentile } from './lib/stats.js';
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
    // Started two at a time: ten compiling their TypeScript at once outlast the ready timeout here.
    const kubelets: KubeletProcess[] = [];
    while (kubelets.length < Math.ceil(sessions / 100)) {
      const batch = await Promise.all(Array.from({ length: Math.min(2, Math.ceil(sessions / 100) - kubelets.length) }, () => startKubelet(plane, { light: true, taint: false, maxPods: 110 })));
      for (const kubelet of batch) hook.after(() => kubelet.stop());
      kubelets.push(...batch);
    }
    const rig = await operatorRig(hook, plane);
    const ns = await tenantNamespace(hook, rig);
    // The plane is this benchmark's own: the pods may go to any of its kubelets (the rig's
    // arguments keep tests' pods off every node unless pinned).
    const operator = await runOperator(hook, rig, ['--agent-port', String(STUB_PORT), '--concurrency', values.concurrency!, '--activity-poll', '60', '--lease-duration', '15'], (s) => ({
      ...s,
      reconciler: { ...s.reconciler, nodeSelector: {} },
    }));
    while (!operator.isLeader() || !operator.ready()) await new Promise((resolve) => setTimeout(resolve, 100));

    const admin = new KubeConfig();
    admin.loadFromFile(plane.kubeconfigPath);
    const client = new KubeClient(admin, 'cloudterm-bench');
    const path = `/apis/cloudterm.io/v1alpha1/namespaces/${ns}/terminalsessions`;
    // The benchmark watches (one stream each) instead of listing 1000 sessions over and over,
    // which would itself be a load on the API server it measures.
    const readyAt = new Map<string, number>();
    const runningAt = new Map<string, number>();
    let allReady!: () => void;
    const everyoneReady = new Promise<void>((resolve) => (allReady = resolve));
    const watchOf = <T extends { metadata?: { name?: string } }>(what: string, seen: (object: T) => boolean, into: Map<string, number>, onAll?: () => void) =>
      new Informer<T>({
        client,
        path: `/${what}`,
        resyncMs: 0,
        watchTimeoutSeconds: 600,
        clock: systemClock,
        onEvent: (_event, object) => {
          const name = object.metadata?.name ?? '';
          if (into.has(name) || !seen(object)) return;
          into.set(name, performance.now());
          if (into.size === sessions) onAll?.();
        },
        onError: (error) => process.stderr.write(`bench watch ${what}: ${(error as Error).message}\n`),
      });
    const sessionWatch = watchOf<TerminalSession>(path.slice(1), (s) => s.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false, readyAt, allReady);
    const podWatch = watchOf<V1Pod>(`api/v1/namespaces/${ns}/pods`, (p) => p.status?.phase === 'Running', runningAt);
    for (const w of [sessionWatch, podWatch]) {
      w.start();
      await w.waitForSync();
      hook.after(() => w.stop());
    }

    const cpuOf = (pid: number) => {
      try {
        return cpuSeconds(pid);
      } catch {
        return 0;
      }
    };
    const kubeletCpu = () => kubelets.reduce((sum, k) => sum + cpuOf(k.pid), 0);
    const cpuBefore = process.cpuUsage();
    const planeCpuBefore = cpuOf(plane.pid);
    const kubeletCpuBefore = kubeletCpu();
    const machineBefore = machineCpu();
    const reconcilesBefore = count(operator.metrics.registry.render(), 'cloudterm_operator_reconciles_total');
    const latencyBefore = [count(operator.metrics.registry.render(), 'cloudterm_operator_reconcile_duration_seconds_sum'), count(operator.metrics.registry.render(), 'cloudterm_operator_reconcile_duration_seconds_count')];
    const wallStart = Date.now();
    const started = performance.now();
    let queuePeak = 0;
    let rssPeak = 0;
    const sampler = setInterval(() => {
      queuePeak = Math.max(queuePeak, operator.queue.depth);
      rssPeak = Math.max(rssPeak, process.memoryUsage().rss);
    }, 100);
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
    const timeout = setTimeout(() => allReady(), 300_000);
    await everyoneReady;
    clearTimeout(timeout);
    clearInterval(sampler);
    if (readyAt.size < sessions) throw new Error(`only ${readyAt.size} of ${sessions} Ready after 300 s`);
    const readyMs = performance.now() - started;
    const wallEnd = Date.now();
    const cpu = process.cpuUsage(cpuBefore);
    const planeCpu = cpuOf(plane.pid) - planeCpuBefore;
    const kubeletsCpu = kubeletCpu() - kubeletCpuBefore;
    const machineAfter = machineCpu();
    const rendered = operator.metrics.registry.render();
    const reconciles = count(rendered, 'cloudterm_operator_reconciles_total') - reconcilesBefore;
    const reconcileSeconds = count(rendered, 'cloudterm_operator_reconcile_duration_seconds_sum') - latencyBefore[0]!;
    const reconcileCount = count(rendered, 'cloudterm_operator_reconcile_duration_seconds_count') - latencyBefore[1]!;
    const podsRunning = Math.max(...runningAt.values()) - started;

    // Every request the server answered in the window, by who made it (the audit log).
    const window = plane.auditLog().filter((e) => auditMs(e.time) >= wallStart && auditMs(e.time) <= wallEnd);
    const operatorUser = rig.identity.user;
    const calls = window.filter((e) => e.user === operatorUser && e.namespace === ns);
    const byVerb = new Map<string, number[]>();
    for (const call of calls) {
      const what = `${call.verb} ${call.resource}${call.subresource ? `/${call.subresource}` : ''}`;
      byVerb.set(what, [...(byVerb.get(what) ?? []), auditMs(call.completed) - auditMs(call.time)]);
    }
    const byUser = new Map<string, number[]>();
    for (const entry of window) {
      if (entry.verb === 'watch') continue;
      const who = entry.user === operatorUser ? 'operator' : entry.user.startsWith('system:node:') ? 'kubelets' : entry.user;
      byUser.set(who, [...(byUser.get(who) ?? []), auditMs(entry.completed) - auditMs(entry.time)]);
    }
    const latency = (values: number[]) => {
      const sorted = [...values].sort((a, b) => a - b);
      return `${(values.length / sessions).toFixed(2)} per session, p50 ${percentile(sorted, 50).toFixed(0)} / p99 ${percentile(sorted, 99).toFixed(0)} ms`;
    };
    const readyTimes = [...readyAt.values()].map((t) => t - started).sort((a, b) => a - b);
    client.close();

    const seconds = readyMs / 1000;
    const share = (s: number) => `${s.toFixed(1)} s (${((s / seconds) * 100).toFixed(0)}% of one core)`;
    const rows: Array<[string, string]> = [
      ['sessions', String(sessions)],
      ['created (all POSTs answered)', `${(createdMs / 1000).toFixed(1)} s`],
      ['all pods Running', `${(podsRunning / 1000).toFixed(1)} s`],
      ['Ready: half / all', `${(percentile(readyTimes, 50) / 1000).toFixed(1)} s / ${seconds.toFixed(1)} s`],
      ['reconciles', `${reconciles} (${(reconciles / seconds).toFixed(0)}/s), mean ${((reconcileSeconds / Math.max(1, reconcileCount)) * 1000).toFixed(0)} ms`],
      ['work queue depth, peak', String(queuePeak)],
      ['operator API requests per session', (calls.length / sessions).toFixed(2)],
      ...[...byVerb].sort((a, b) => b[1].length - a[1].length).map(([what, v]): [string, string] => [`  ${what}`, latency(v)]),
      ['API requests in the window (not watches)', String([...byUser.values()].reduce((n, v) => n + v.length, 0))],
      ...[...byUser].sort((a, b) => b[1].length - a[1].length).map(([who, v]): [string, string] => [`  ${who}`, latency(v)]),
      ['CPU: k3s (API server, scheduler, controllers, SQLite)', share(planeCpu)],
      ['CPU: the light kubelets', share(kubeletsCpu)],
      ['CPU: operator + bench client (this process)', share((cpu.user + cpu.system) / 1e6)],
      ['machine busy (both cores, everything)', `${(((machineAfter.busy - machineBefore.busy) / (machineAfter.total - machineBefore.total)) * 100).toFixed(0)}%`],
      ['process RSS peak (operator + bench client)', `${(rssPeak / 1024 / 1024).toFixed(0)} MiB`],
      ['machine', `${cpus().length} × ${cpus()[0]?.model ?? '?'}, Node ${process.version}, load ${loadavg().map((l) => l.toFixed(1)).join(' ')}`],
    ];
    const width = Math.max(...rows.map(([k]) => k.length));
    process.stdout.write(`${rows.map(([k, v]) => `${k.padEnd(width)}  ${v}`).join('\n')}\n`);
    return 0;
  } finally {
    for (const fn of cleanups) await fn();
  }
}

/** An audit timestamp (RFC 3339 with microseconds) in milliseconds, the microseconds kept. */
function auditMs(text: string): number {
  const match = /\.(\d+)Z$/.exec(text);
  const fraction = match ? Number(`0.${match[1]}`) * 1000 : 0;
  return Date.parse(text.replace(/\.\d+Z$/, 'Z')) + fraction;
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
    // Where each start's time goes, from the pods' watch events as they arrive here.
    const seenAt = new Map<string, { scheduled?: number; running?: number; ready?: number }>();
    const pods = new Informer<V1Pod>({
      client,
      path: `/api/v1/namespaces/${ns}/pods`,
      resyncMs: 0,
      watchTimeoutSeconds: 600,
      clock: systemClock,
      onEvent: (_event, pod) => {
        const at = seenAt.get(pod.metadata?.name ?? '') ?? {};
        const now = performance.now();
        if (pod.spec?.nodeName) at.scheduled ??= now;
        if (pod.status?.containerStatuses?.[0]?.state?.running) at.running ??= now;
        if (pod.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True')) at.ready ??= now;
        seenAt.set(pod.metadata?.name ?? '', at);
      },
      onError: () => {},
    });
    pods.start();
    await pods.waitForSync();
    hook.after(() => pods.stop());
    const steps: Array<Record<string, number>> = [];
    for (let i = 0; i < rounds; i += 1) {
      const started = performance.now();
      const created = await client.create<TerminalSession>(path, { apiVersion: 'cloudterm.io/v1alpha1', kind: 'TerminalSession', metadata: { name: `prompt-${i}` }, spec: { owner: 'bench' } });
      let session: TerminalSession;
      for (;;) {
        session = await client.get<TerminalSession>(`${path}/prompt-${i}`);
        if (session.status?.phase === 'Running' && session.status.endpoint) break;
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      const runningAt = performance.now();
      const token = await signAttachToken(rig.privateKey, { sessionId: created.metadata.uid!, user: 'bench', role: 'rw' });
      const terminal = await TestClient.connect({ url: `${session.status!.endpoint!.replace(/^http/, 'ws')}/attach`, headers: { authorization: `Bearer ${token}` } });
      await terminal.waitFor(() => terminal.output().length > 0, 'the first prompt', 10_000);
      const promptAt = performance.now();
      times.push(promptAt - started);
      const pod = seenAt.get(`cloudterm-prompt-${i}`) ?? {};
      const rel = (t: number | undefined) => (t === undefined ? NaN : t - started);
      steps.push({ scheduled: rel(pod.scheduled), 'container running': rel(pod.running), 'pod Ready': rel(pod.ready), 'session Running': rel(runningAt), 'first prompt': rel(promptAt) });
      await terminal.close();
      await client.delete(`${path}/prompt-${i}`);
    }
    client.close();
    const sorted = [...times].sort((a, b) => a - b);
    const pick = (q: number) => sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)]!;
    process.stdout.write(`create → first prompt, ${rounds} sessions: p50 ${pick(0.5).toFixed(0)} ms, p99 ${pick(0.99).toFixed(0)} ms, min ${sorted[0]!.toFixed(0)} ms, max ${sorted.at(-1)!.toFixed(0)} ms\n`);
    process.stdout.write('since the create, as seen here (p50 / max): ');
    process.stdout.write(`${Object.keys(steps[0] ?? {}).map((step) => {
      // A pod deleted before its Ready was written (the session ran before the probe) has none.
      const values = steps.map((s) => s[step]!).filter((v) => !Number.isNaN(v)).sort((a, b) => a - b);
      return `${step} ${values.length === 0 ? '–' : `${percentile(values, 50).toFixed(0)} / ${values.at(-1)!.toFixed(0)} ms`}${values.length < steps.length ? ` (seen in ${values.length})` : ''}`;
    }).join(', ')}; load ${loadavg().map((l) => l.toFixed(1)).join(' ')}\n`);
    return 0;
  } finally {
    for (const fn of cleanups) await fn();
  }
}
