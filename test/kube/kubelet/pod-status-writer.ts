// Writes a pod's status as a kubelet does: computed from its containers' records (pod-status.ts),
// sent as a strategic merge patch, and only when it differs from what was last written.
import { ApiException, PatchStrategy, setHeaderOptions } from '@kubernetes/client-node';
import { podStatusPatch, rfc3339, type ContainerView } from './pod-status.js';
import type { PodScope } from './pod-scope.js';

export class PodStatusWriter {
  private lastWritten = '';

  constructor(private readonly scope: PodScope) {}

  async write(): Promise<void> {
    const { record, context } = this.scope;
    const view = { podIp: record.podIp, hostIp: '127.0.0.1', startTime: record.startTime, containers: this.view() };
    const fingerprint = JSON.stringify(view);
    if (fingerprint === this.lastWritten) return;
    try {
      await context.core.patchNamespacedPodStatus(
        { name: record.name, namespace: record.namespace, body: { status: podStatusPatch(this.scope.pod, view, rfc3339()) } },
        setHeaderOptions('Content-Type', PatchStrategy.StrategicMergePatch),
      );
      this.lastWritten = fingerprint;
    } catch (error) {
      if (error instanceof ApiException && error.code === 404) return; // deleted: the watch will say so
      throw error;
    }
  }

  private view(): ContainerView[] {
    const { record, context } = this.scope;
    return this.scope.containers().map((container) => {
      const state = record.containers[container.name]!;
      return {
        name: container.name,
        image: container.image ?? '',
        state: state.state,
        lastState: state.lastState,
        restartCount: state.restartCount,
        containerId: state.attempt > 0 || context.light ? `rig://${record.uid}/${container.name}/${state.attempt}` : undefined,
      };
    });
  }
}
