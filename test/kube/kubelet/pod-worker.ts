// One pod on this node, driven level-based: every change of the pod object, process exit, probe
// result or timer calls sync(), which compares what runs with what the pod asks for and fixes the
// difference, then writes the status if it changed. Syncs never overlap (one at a time, the last
// request wins). The parts: the containers' processes (container-runner.ts), the pod's end
// (pod-termination.ts), its status (pod-status-writer.ts) and its volumes (pod-volume-sources.ts).
import { mkdir, rm, chmod } from 'node:fs/promises';
import { join } from 'node:path';
import type { V1Container, V1Pod } from '@kubernetes/client-node';
import { programPid } from './container-launch.js';
import { ContainerRunner } from './container-runner.js';
import { saveRecord, type PodRecord } from './pod-records.js';
import type { PodScope, WorkerContext } from './pod-scope.js';
import { PodStatusWriter } from './pod-status-writer.js';
import { PodTermination } from './pod-termination.js';
import { PodVolumeSources } from './pod-volume-sources.js';

export class PodWorker implements PodScope {
  pod: V1Pod;
  done = false;
  readonly podDir: string;
  private removed = false;
  private syncing = false;
  private again = false;
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly runner = new ContainerRunner(this);
  private readonly status = new PodStatusWriter(this);
  private readonly volumes = new PodVolumeSources(this);
  private readonly termination = new PodTermination(this, this.runner, this.status);

  constructor(
    pod: V1Pod,
    readonly record: PodRecord,
    readonly context: WorkerContext,
  ) {
    this.pod = pod;
    this.podDir = join(context.podsDir, record.uid);
  }

  get uid(): string {
    return this.record.uid;
  }

  get podIp(): string {
    return this.record.podIp;
  }

  get key(): string {
    return `${this.record.namespace}/${this.record.name}`;
  }

  get terminating(): boolean {
    return this.termination.started;
  }

  /** The container's main process (tests signal it as a crash would). */
  pidOf(container: string): number | undefined {
    const state = this.record.containers[container];
    return state ? programPid(this.podDir, container, state.attempt) : undefined;
  }

  /** A newer version of the pod object. */
  update(pod: V1Pod): void {
    this.pod = pod;
    this.kick();
  }

  /** The pod is gone from the API (deleted with grace 0 by someone, or while we were away). */
  remove(): void {
    this.removed = true;
    this.kick();
  }

  /** Stops the pod's processes because the kubelet stops; the record stays for the next start. */
  async shutdown(graceMs: number): Promise<void> {
    this.done = true;
    for (const timer of this.timers) clearTimeout(timer);
    await this.termination.shutdown(graceMs);
  }

  kick(): void {
    if (this.done) return;
    if (this.syncing) {
      this.again = true;
      return;
    }
    this.syncing = true;
    void this.loop();
  }

  after(ms: number, fn: () => void): void {
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      fn();
    }, ms);
    this.timers.add(timer);
  }

  containers(): V1Container[] {
    return this.pod.spec?.containers ?? [];
  }

  private async loop(): Promise<void> {
    try {
      do {
        this.again = false;
        try {
          await this.sync();
        } catch (error) {
          this.context.log.warn('Pod sync failed; retrying', { pod: this.key, error: (error as Error).message });
          this.after(1_000, () => this.kick());
        }
      } while (this.again && !this.done);
    } finally {
      this.syncing = false;
    }
  }

  private async sync(): Promise<void> {
    if (this.removed || this.pod.metadata?.deletionTimestamp) {
      if (await this.termination.step(this.removed)) await this.finish();
      return;
    }
    await mkdir(this.podDir, { recursive: true });
    await chmod(this.podDir, 0o711);
    for (const container of this.containers()) {
      this.record.containers[container.name] ??= { attempt: 0, restartCount: 0, state: { kind: 'waiting', reason: 'ContainerCreating' } };
    }
    if (!this.context.light) await this.volumes.refresh();
    for (const container of this.containers()) await this.runner.sync(container, this.volumes.current);
    await saveRecord(this.podDir, this.record);
    await this.status.write();
  }

  /** The pod is deleted and its processes gone: its folder goes, its address is released. */
  private async finish(): Promise<void> {
    this.done = true;
    for (const timer of this.timers) clearTimeout(timer);
    await rm(this.podDir, { recursive: true, force: true });
    this.context.finished(this.record.uid, this.record.podIp);
  }
}
