// The rig's kubelet: an ordinary API client that registers a Node, watches the pods bound to it
// and runs them as real processes (see docs/kube-rig.md). Its state folder remembers each pod's
// address and processes, so that a kubelet started again adopts what the last one left running
// and stops what belongs to pods that are gone: never a duplicate, never an orphan.
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, rm, writeFile, chmod } from 'node:fs/promises';
import { join } from 'node:path';
import { CoreV1Api, type KubeConfig, type V1Pod } from '@kubernetes/client-node';
import { AddressPool } from './address-pool.js';
import { objectReader, tokenMinter } from './api-objects.js';
import { NodeHeartbeat } from './node-heartbeat.js';
import { PodSource } from './pod-source.js';
import { PodWorker } from './pod-worker.js';
import type { WorkerLog } from './pod-scope.js';
import { loadRecords, type PodRecord } from './pod-records.js';
import { rfc3339 } from './pod-status.js';
import { processStart, signalGroup } from './sandbox.js';
import { PodVolumes } from './volumes.js';

export interface KubeletOptions {
  readonly kubeConfig: KubeConfig;
  readonly nodeName: string;
  /** Pod folders and records; reuse it to adopt a previous kubelet's processes. */
  readonly stateDir: string;
  /** No processes: pods go Running (with an address) as soon as they are bound. */
  readonly light?: boolean;
  readonly maxPods?: number;
  readonly labels?: Readonly<Record<string, string>>;
  /** Taint the Node `cloudterm.io/rig-node=<name>:NoSchedule`: only pinned or tolerating pods land. */
  readonly taint?: boolean;
  /** The first restart's delay under restartPolicy (doubling, at most 60 s). Default 1 s. */
  readonly restartBackoffMs?: number;
  /** How long pods get to stop when the kubelet stops. Default 5 s. */
  readonly shutdownGraceMs?: number;
  readonly execPath: string;
  readonly log: WorkerLog;
}

export class KubeletError extends Error {
  override readonly name = 'KubeletError';
}

export class FakeKubelet {
  private readonly workers = new Map<string, PodWorker>();
  private readonly addresses: AddressPool;
  private readonly records: Map<string, PodRecord>;
  private readonly podsDir: string;
  private readonly core: CoreV1Api;
  private readonly heartbeat: NodeHeartbeat;
  private readonly source: PodSource;
  private readonly volumes: PodVolumes;
  private firstList = true;
  private stopping = false;

  private constructor(private readonly options: KubeletOptions) {
    this.podsDir = join(options.stateDir, 'pods');
    this.core = options.kubeConfig.makeApiClient(CoreV1Api);
    this.records = loadRecords(this.podsDir);
    this.addresses = AddressPool.forNode(options.stateDir, options.light ?? false);
    for (const record of this.records.values()) if (record.podIp) this.addresses.claim(record.podIp);
    this.volumes = new PodVolumes(objectReader(this.core), tokenMinter(this.core));
    this.heartbeat = new NodeHeartbeat(
      options.kubeConfig,
      { name: options.nodeName, maxPods: options.maxPods ?? 110, cpu: '8', memory: '16Gi', labels: options.labels ?? {}, taint: options.taint ?? false },
      options.log,
    );
    this.source = new PodSource(options.kubeConfig, options.nodeName, this, options.log);
  }

  static async start(options: KubeletOptions): Promise<FakeKubelet> {
    if (!options.light && process.getuid?.() !== 0) {
      throw new KubeletError('the rig kubelet runs each pod in a mount namespace of its own (unshare -m, bind mounts), which needs root: run it as root, or with --light (no processes)');
    }
    await mkdir(join(options.stateDir, 'pods'), { recursive: true });
    await chmod(join(options.stateDir, 'pods'), 0o711);
    await mkdir(join(options.stateDir, 'root'), { recursive: true });
    await claimStateDir(options.stateDir);
    const kubelet = new FakeKubelet(options);
    await kubelet.heartbeat.start();
    kubelet.source.start();
    return kubelet;
  }

  get nodeName(): string {
    return this.options.nodeName;
  }

  /** Stops watching and stops every pod's processes (their records stay for the next start). */
  async stop(): Promise<void> {
    this.stopping = true;
    this.source.stop();
    this.heartbeat.stop();
    await Promise.all([...this.workers.values()].map((worker) => worker.shutdown(this.options.shutdownGraceMs ?? 5_000)));
    await rm(join(this.options.stateDir, 'kubelet.pid'), { force: true });
  }

  replace(pods: readonly V1Pod[]): void {
    const present = new Set(pods.map((pod) => pod.metadata?.uid));
    for (const pod of pods) this.upsert(pod);
    for (const [uid, worker] of this.workers) if (!present.has(uid)) worker.remove();
    if (this.firstList) {
      this.firstList = false;
      for (const record of this.records.values()) if (!present.has(record.uid)) void this.reapOrphan(record);
    }
  }

  upsert(pod: V1Pod): void {
    if (this.stopping) return;
    const uid = pod.metadata?.uid;
    if (!uid) return;
    let worker = this.workers.get(uid);
    if (!worker) {
      const phase = pod.status?.phase;
      const known = this.records.get(uid);
      // A pod that finished before this kubelet knew it (no record) has nothing left to run.
      if (!known && (phase === 'Succeeded' || phase === 'Failed') && !pod.metadata?.deletionTimestamp) return;
      const record: PodRecord = known?.podIp
        ? known
        : { uid, namespace: pod.metadata!.namespace!, name: pod.metadata!.name!, podIp: this.addresses.allocate(), startTime: rfc3339(), containers: {} };
      this.records.delete(uid);
      const server = new URL(this.options.kubeConfig.getCurrentCluster()!.server);
      worker = new PodWorker(pod, record, {
        core: this.core,
        podsDir: this.podsDir,
        rootDir: join(this.options.stateDir, 'root'),
        apiServer: { host: server.hostname, port: Number(server.port || 443) },
        reader: objectReader(this.core),
        volumes: this.volumes,
        execPath: this.options.execPath,
        light: this.options.light ?? false,
        restartBackoffMs: this.options.restartBackoffMs ?? 1_000,
        log: this.options.log,
        finished: (doneUid, podIp) => {
          this.workers.delete(doneUid);
          this.addresses.release(podIp);
        },
      });
      this.workers.set(uid, worker);
    }
    worker.update(pod);
  }

  remove(pod: V1Pod): void {
    const worker = pod.metadata?.uid ? this.workers.get(pod.metadata.uid) : undefined;
    worker?.remove();
  }

  /** A pod folder whose pod no longer exists: its processes are stopped, its folder removed. */
  private async reapOrphan(record: PodRecord): Promise<void> {
    for (const container of Object.values(record.containers)) {
      if (container.shimPid !== undefined && processStart(container.shimPid) === container.shimStart) signalGroup(container.shimPid, 'SIGKILL');
    }
    this.options.log.info('Removed the remains of a pod that no longer exists', { uid: record.uid, pod: `${record.namespace}/${record.name}` });
    this.records.delete(record.uid);
    if (record.podIp) this.addresses.release(record.podIp);
    await rm(join(this.podsDir, record.uid), { recursive: true, force: true });
  }
}

/** One kubelet per state folder: two would both think they own the same processes. */
async function claimStateDir(stateDir: string): Promise<void> {
  const lock = join(stateDir, 'kubelet.pid');
  if (existsSync(lock)) {
    const pid = Number(readFileSync(lock, 'utf8'));
    if (pid !== process.pid && Number.isInteger(pid) && processStart(pid) !== undefined) {
      throw new KubeletError(`another kubelet (PID ${pid}) uses the state folder ${stateDir}`);
    }
  }
  await writeFile(lock, String(process.pid));
}
