// A pod's end, as the kubelet does it: SIGTERM to each container's main process, SIGKILL to
// everything it started at the end of the grace period (a shortened one is honoured), the final
// status, then a delete with grace 0 and the pod's uid as precondition. Also the kubelet's own
// stop, which ends the processes but leaves the pod to the next kubelet.
import { ApiException } from '@kubernetes/client-node';
import { programPid, recordedExit } from './container-launch.js';
import type { ContainerRunner } from './container-runner.js';
import type { PodScope } from './pod-scope.js';
import type { PodStatusWriter } from './pod-status-writer.js';
import { rfc3339 } from './pod-status.js';
import { processStart, signalGroup, signalProcess } from './sandbox.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export class PodTermination {
  /** When the grace period ends; set by the first step. */
  private deadline: number | undefined;

  constructor(
    private readonly scope: PodScope,
    private readonly runner: ContainerRunner,
    private readonly status: PodStatusWriter,
  ) {}

  get started(): boolean {
    return this.deadline !== undefined;
  }

  /**
   * One step of the pod's end; true once it is over (the pod deleted, unless `removed` says the
   * API has no pod left to delete). A step that is not the last asks for the next one itself.
   */
  async step(removed: boolean): Promise<boolean> {
    const { pod, record, podDir, context } = this.scope;
    const graceSeconds = pod.metadata?.deletionGracePeriodSeconds ?? pod.spec?.terminationGracePeriodSeconds ?? 30;
    const deadline = Date.now() + graceSeconds * 1000;
    if (this.deadline === undefined) {
      this.deadline = deadline;
      context.log.info('Killing pod', { pod: this.scope.key, graceSeconds });
      for (const name of this.runner.runningNames()) this.signal(name, 'SIGTERM');
    } else if (deadline < this.deadline) {
      this.deadline = deadline; // the grace period was shortened
    }
    if (this.runner.anyRunning) {
      const left = this.deadline - Date.now();
      if (left > 0) {
        this.scope.after(Math.min(left, 200), () => this.scope.kick());
        return false;
      }
      for (const name of this.runner.runningNames()) this.signal(name, 'SIGKILL');
      this.scope.after(50, () => this.scope.kick());
      return false;
    }
    // The shim is gone; its program (killed with it, or orphaned if the shim died first) must be too.
    const programs = Object.entries(record.containers)
      .map(([name, state]) => programPid(podDir, name, state.attempt))
      .filter((pid): pid is number => pid !== undefined && processStart(pid) !== undefined);
    if (programs.length > 0) {
      for (const pid of programs) signalProcess(pid, 'SIGKILL');
      this.scope.after(20, () => this.scope.kick());
      return false;
    }
    for (const [name, state] of Object.entries(record.containers)) {
      if (state.state.kind !== 'terminated') {
        const startedAt = state.state.kind === 'running' ? state.state.startedAt : rfc3339();
        const code = context.light ? 0 : recordedExit(podDir, name, state.attempt) ?? 137;
        state.state = { kind: 'terminated', exitCode: code, reason: code === 0 ? 'Completed' : 'Error', startedAt, finishedAt: rfc3339() };
      }
    }
    if (!removed) {
      if (!context.light) await this.status.write();
      await context.core
        .deleteNamespacedPod({ name: record.name, namespace: record.namespace, gracePeriodSeconds: 0, body: { gracePeriodSeconds: 0, preconditions: { uid: record.uid } } })
        .catch((error: unknown) => {
          // Gone already, or a new pod of the same name (the uid precondition refused it): done either way.
          if (!(error instanceof ApiException && (error.code === 404 || error.code === 409))) throw error;
        });
    }
    return true;
  }

  /** The kubelet stops: SIGTERM, SIGKILL after `graceMs`, and wait until every process is gone. */
  async shutdown(graceMs: number): Promise<void> {
    for (const name of this.runner.runningNames()) this.signal(name, 'SIGTERM');
    const deadline = Date.now() + graceMs;
    while (this.runner.anyRunning && Date.now() < deadline) await sleep(50);
    for (const name of this.runner.runningNames()) this.signal(name, 'SIGKILL');
    while (this.runner.anyRunning) await sleep(20);
  }

  /** SIGTERM to the container's main process (the shim's group before it is known); SIGKILL to the whole group. */
  private signal(container: string, signal: NodeJS.Signals): void {
    const state = this.scope.record.containers[container];
    if (!state?.shimPid) return;
    if (signal === 'SIGKILL') return signalGroup(state.shimPid, 'SIGKILL');
    const pid = programPid(this.scope.podDir, container, state.attempt);
    if (pid) signalProcess(pid, signal);
    else signalGroup(state.shimPid, signal);
  }
}
