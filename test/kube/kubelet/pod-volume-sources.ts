// A pod's volumes as files in its folder (volumes.ts writes them), looked at again every few
// seconds, since Secrets and ConfigMaps change behind the pod's back (a token sooner, when due).
import { join } from 'node:path';
import { podIdentity } from './container-launch.js';
import type { PodScope } from './pod-scope.js';
import type { VolumeSource } from './volumes.js';

const VOLUME_REFRESH_MS = 5_000;

export class PodVolumeSources {
  private sources = new Map<string, VolumeSource>();
  private checkedAt = 0;

  constructor(private readonly scope: PodScope) {}

  /** Each volume's folder by name, as of the last refresh. */
  get current(): ReadonlyMap<string, VolumeSource> {
    return this.sources;
  }

  async refresh(): Promise<void> {
    const { pod, record, podDir, context } = this.scope;
    const containers = this.scope.containers();
    if (Date.now() - this.checkedAt < VOLUME_REFRESH_MS && this.sources.size === (pod.spec?.volumes ?? []).length) return;
    this.checkedAt = Date.now();
    const identity = containers[0] ? podIdentity(pod, containers[0]) : undefined;
    const single = new Set(containers.map((container) => container.securityContext?.runAsUser ?? pod.spec?.securityContext?.runAsUser ?? 0));
    const ownership = { fsGroup: identity?.fsGroup, tokenOwner: identity?.fsGroup === undefined && single.size === 1 ? [...single][0] : undefined };
    const next = new Map<string, VolumeSource>();
    let refreshAt = Infinity;
    for (const volume of pod.spec?.volumes ?? []) {
      const source = await context.volumes.materialise(this.scope.pod, record.podIp, volume, join(podDir, 'volumes', volume.name), ownership, this.sources.get(volume.name));
      next.set(volume.name, source);
      refreshAt = Math.min(refreshAt, source.refreshAt);
    }
    this.sources = next;
    // Secrets and ConfigMaps change behind the pod's back: look again (a token earlier if it is due).
    if (next.size > 0) this.scope.after(Math.max(100, Math.min(VOLUME_REFRESH_MS, refreshAt - Date.now())), () => this.scope.kick());
  }
}
