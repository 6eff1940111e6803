// `npm run bench -- kube [--agents 50] [--light-pods 1000] [--concurrency 50]`: the Kubernetes
// test rig's figures: the control plane's ready time and RSS; the time from creating a terminal
// pod to its agent answering on the pod IP (p50/p99, one pod at a time); pods per second until
// Running in light mode; the light kubelet's RSS and CPU at that many pods (against the API
// server's CPU in the same window: the kubelet must never be what limits the operator's benchmark).
import { readFileSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { CoreV1Api, Watch, type V1Pod } from '@kubernetes/client-node';
import { generateSigningKeyPair } from '../core/src/index.js';
import { KubeConfig } from '@kubernetes/client-node';
import { agentPod, AGENT_PORT, startControlPlane, startKubelet, withKeepAlive, type ControlPlane } from '../test/kube/index.js';
import { intOption } from './lib/options.js';
import { percentile } from './lib/stats.js';

const TICKS_PER_SECOND = 100;
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

function rssMiB(pid: number): number {
  const line = readFileSync(`/proc/${pid}/status`, 'utf8').split('\n').find((l) => l.startsWith('VmRSS:'));
  return Number(line?.split(/\s+/)[1] ?? NaN) / 1024;
}

/** CPU seconds (user + system) the process used so far, its waited-for children included. */
function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12]) + Number(fields[13]) + Number(fields[14])) / TICKS_PER_SECOND;
}

async function answering(url: string): Promise<void> {
  for (;;) {
    try {
      const response = await fetch(url);
      if (response.status === 200) return;
    } catch {
      // not listening yet
    }
    await sleep(5);
  }
}

async function agentStartTimes(plane: ControlPlane, count: number): Promise<number[]> {
  const kubelet = await startKubelet(plane);
  const core = plane.kubeConfig.makeApiClient(CoreV1Api);
  const ns = `bench-agents-${Date.now()}`;
  await core.createNamespace({ body: { metadata: { name: ns } } });
  try {
    await core.createNamespacedSecret({ namespace: ns, body: { metadata: { name: 'attach-key' }, stringData: { 'public.pem': (await generateSigningKeyPair()).publicKeyPem } } });
    while (!(await core.readNamespacedServiceAccount({ name: 'default', namespace: ns }).then(() => true, () => false))) await sleep(50);
    const times: number[] = [];
    for (let index = 0; index < count; index += 1) {
      const name = `agent-${index}`;
      const started = performance.now();
      await core.createNamespacedPod({ namespace: ns, body: agentPod({ name, sessionId: `s-${index}`, keySecret: 'attach-key', nodeName: kubelet.nodeName }) });
      let ip: string | undefined;
      while (!ip) {
        ip = (await core.readNamespacedPod({ name, namespace: ns })).status?.podIP;
        if (!ip) await sleep(10);
      }
      await answering(`http://${ip}:${AGENT_PORT}/status`);
      times.push(performance.now() - started);
      await core.deleteNamespacedPod({ name, namespace: ns });
    }
    return times;
  } finally {
    await core.deleteNamespace({ name: ns }).catch(() => undefined);
    await kubelet.stop();
  }
}

interface LightFigures {
  readonly podsPerSecond: number;
  readonly seconds: number;
  readonly kubeletCpuPercent: number;
  readonly apiServerCpuPercent: number;
  readonly kubeletRssMiB: number;
  readonly kubeletIdleCpuPercent: number;
}

async function lightMode(plane: ControlPlane, count: number, concurrency: number): Promise<LightFigures> {
  const kubelet = await startKubelet(plane, { light: true, maxPods: count + 10 });
  // The creating client reuses its connections, as the kubelet does, so that it is not what limits.
  const config = new KubeConfig();
  config.loadFromFile(plane.kubeconfigPath);
  const core = withKeepAlive(config).makeApiClient(CoreV1Api);
  const ns = `bench-light-${Date.now()}`;
  await core.createNamespace({ body: { metadata: { name: ns } } });
  try {
    while (!(await core.readNamespacedServiceAccount({ name: 'default', namespace: ns }).then(() => true, () => false))) await sleep(50);
    const running = new Set<string>();
    let allRunning: () => void = () => undefined;
    const done = new Promise<void>((resolve) => (allRunning = resolve));
    const watch = await new Watch(plane.kubeConfig).watch(`/api/v1/namespaces/${ns}/pods`, {}, (_type: string, pod: V1Pod) => {
      if (pod.status?.phase === 'Running' && pod.status.podIP) running.add(pod.metadata!.name!);
      if (running.size === count) allRunning();
    }, () => undefined);
    const kubeletCpu0 = cpuSeconds(kubelet.pid);
    const apiCpu0 = cpuSeconds(plane.pid);
    const started = performance.now();
    let next = 0;
    await Promise.all(
      Array.from({ length: concurrency }, async () => {
        while (next < count) {
          const name = `light-${next++}`;
          await core.createNamespacedPod({
            namespace: ns,
            body: { metadata: { name }, spec: { nodeName: kubelet.nodeName, automountServiceAccountToken: false, containers: [{ name: 'agent', image: 'ghcr.io/cloudterm/cloudterm:0.1.0' }] } },
          });
        }
      }),
    );
    await done;
    const seconds = (performance.now() - started) / 1000;
    const kubeletCpu = cpuSeconds(kubelet.pid) - kubeletCpu0;
    const apiCpu = cpuSeconds(plane.pid) - apiCpu0;
    watch.abort();
    await sleep(5_000);
    const idle0 = cpuSeconds(kubelet.pid);
    await sleep(10_000);
    const idle = (cpuSeconds(kubelet.pid) - idle0) / 10;
    return {
      podsPerSecond: count / seconds,
      seconds,
      kubeletCpuPercent: (kubeletCpu / seconds) * 100,
      apiServerCpuPercent: (apiCpu / seconds) * 100,
      kubeletRssMiB: rssMiB(kubelet.pid),
      kubeletIdleCpuPercent: idle * 100,
    };
  } finally {
    await core.deleteNamespace({ name: ns }).catch(() => undefined);
    await kubelet.stop();
  }
}

export async function run(argv: readonly string[]): Promise<number> {
  const options = { agents: 50, lightPods: 1000, concurrency: 50 };
  for (let index = 0; index < argv.length; index += 2) {
    const [flag, value = ''] = [argv[index], argv[index + 1]];
    if (flag === '--agents') options.agents = intOption('agents', value, 1, 250);
    else if (flag === '--light-pods') options.lightPods = intOption('light-pods', value, 1, 20_000);
    else if (flag === '--concurrency') options.concurrency = intOption('concurrency', value, 1, 500);
    else throw new TypeError(`unknown option ${flag}; there are --agents, --light-pods, --concurrency`);
  }
  const startedAt = performance.now();
  const plane = await startControlPlane();
  const readyMs = performance.now() - startedAt;
  const readyRss = rssMiB(plane.pid);
  try {
    const times = (await agentStartTimes(plane, options.agents)).sort((a, b) => a - b);
    const light = await lightMode(plane, options.lightPods, options.concurrency);
    const afterRss = rssMiB(plane.pid);
    const rows: Array<[string, string]> = [
      ['control plane ready (readyz + controllers)', `${(readyMs / 1000).toFixed(1)} s`],
      ['control plane RSS at ready / after the runs', `${readyRss.toFixed(0)} / ${afterRss.toFixed(0)} MiB`],
      [`pod created → agent answering on its IP, p50 / p99 of ${options.agents}`, `${percentile(times, 50).toFixed(0)} / ${percentile(times, 99).toFixed(0)} ms`],
      [`light mode: ${options.lightPods} pods created (${options.concurrency} at a time) until Running`, `${light.podsPerSecond.toFixed(0)} pods/s (${light.seconds.toFixed(1)} s)`],
      ['light kubelet CPU while they start / API server CPU', `${light.kubeletCpuPercent.toFixed(0)}% / ${light.apiServerCpuPercent.toFixed(0)}% of a core`],
      [`light kubelet at ${options.lightPods} pods: RSS, idle CPU`, `${light.kubeletRssMiB.toFixed(0)} MiB, ${light.kubeletIdleCpuPercent.toFixed(1)}% of a core`],
    ];
    const width = Math.max(...rows.map(([what]) => what.length));
    process.stdout.write(`\n${rows.map(([what, value]) => `${what.padEnd(width)}  ${value}`).join('\n')}\n`);
    const results = join(import.meta.dirname, 'results');
    await mkdir(results, { recursive: true });
    await writeFile(
      join(results, `kube-rig-${new Date().toISOString().replace(/[:.]/g, '-')}.json`),
      JSON.stringify({ node: process.version, options, readyMs, readyRssMiB: readyRss, afterRssMiB: afterRss, agentStartMs: times, light }, null, 2),
    );
    return 0;
  } finally {
    await plane.stop();
  }
}
