// The Node this kubelet is: registered at start (capacity, addresses, Ready), its status posted
// again every minute, and its Lease in kube-node-lease renewed every 10 s, which is what the node
// lifecycle controller watches. Failures are retried on the next beat: an API server that went
// away and came back gets a Ready node again without anyone restarting anything.
import { ApiException, CoordinationV1Api, CoreV1Api, PatchStrategy, setHeaderOptions, type KubeConfig, type V1Lease } from '@kubernetes/client-node';
import { rfc3339 } from './pod-status.js';

export interface NodeShape {
  readonly name: string;
  readonly maxPods: number;
  readonly cpu: string;
  readonly memory: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly taint: boolean;
}

export interface HeartbeatLog {
  warn(message: string, fields?: Record<string, unknown>): void;
}

const LEASE_SECONDS = 40;
const LEASE_RENEW_MS = 10_000;
const STATUS_EVERY_MS = 60_000;
const KUBELET_VERSION = 'v1.21.2-cloudterm-rig';

export class NodeHeartbeat {
  private timer: NodeJS.Timeout | undefined;
  private lastStatus = 0;
  private readonly core: CoreV1Api;
  private readonly coordination: CoordinationV1Api;

  constructor(
    config: KubeConfig,
    private readonly node: NodeShape,
    private readonly log: HeartbeatLog,
  ) {
    this.core = config.makeApiClient(CoreV1Api);
    this.coordination = config.makeApiClient(CoordinationV1Api);
  }

  /** Registers the node and makes it Ready; rejects if the API cannot be reached at all. */
  async start(): Promise<void> {
    await this.register();
    await this.postStatus();
    await this.renewLease();
    this.timer = setInterval(() => void this.beat(), LEASE_RENEW_MS);
  }

  stop(): void {
    clearInterval(this.timer);
  }

  private async beat(): Promise<void> {
    try {
      // A node deleted behind our back (or an API server that lost its data) is registered again.
      await this.register();
      if (Date.now() - this.lastStatus >= STATUS_EVERY_MS) await this.postStatus();
      await this.renewLease();
    } catch (error) {
      this.log.warn('Node heartbeat failed; retrying', { error: (error as Error).message });
    }
  }

  private async register(): Promise<void> {
    try {
      await this.core.createNode({
        body: {
          metadata: {
            name: this.node.name,
            labels: { 'kubernetes.io/hostname': this.node.name, 'kubernetes.io/os': 'linux', 'kubernetes.io/arch': 'amd64', ...this.node.labels },
          },
          spec: this.node.taint ? { taints: [{ key: 'cloudterm.io/rig-node', value: this.node.name, effect: 'NoSchedule' }] } : {},
        },
      });
    } catch (error) {
      if (!(error instanceof ApiException && error.code === 409)) throw error;
    }
  }

  private async postStatus(): Promise<void> {
    const now = rfc3339();
    const resources = { cpu: this.node.cpu, memory: this.node.memory, pods: String(this.node.maxPods), 'ephemeral-storage': '50Gi' };
    const ok = (type: string, reason: string, message: string, status = 'False') => ({ type, status, reason, message, lastHeartbeatTime: now, lastTransitionTime: now });
    await this.core.patchNodeStatus(
      {
        name: this.node.name,
        body: {
          status: {
            capacity: resources,
            allocatable: resources,
            conditions: [
              ok('Ready', 'KubeletReady', 'the CloudTerm rig kubelet is posting ready status', 'True'),
              ok('MemoryPressure', 'KubeletHasSufficientMemory', 'kubelet has sufficient memory available'),
              ok('DiskPressure', 'KubeletHasNoDiskPressure', 'kubelet has no disk pressure'),
              ok('PIDPressure', 'KubeletHasSufficientPID', 'kubelet has sufficient PID available'),
            ],
            addresses: [
              { type: 'InternalIP', address: '127.0.0.1' },
              { type: 'Hostname', address: this.node.name },
            ],
            nodeInfo: {
              machineID: 'cloudterm-rig',
              systemUUID: 'cloudterm-rig',
              bootID: 'cloudterm-rig',
              kernelVersion: 'linux',
              osImage: 'CloudTerm test rig',
              containerRuntimeVersion: 'rig://1',
              kubeletVersion: KUBELET_VERSION,
              kubeProxyVersion: KUBELET_VERSION,
              operatingSystem: 'linux',
              architecture: 'amd64',
            },
          },
        },
      },
      setHeaderOptions('Content-Type', PatchStrategy.StrategicMergePatch),
    );
    this.lastStatus = Date.now();
  }

  private async renewLease(): Promise<void> {
    // A MicroTime must have exactly six fraction digits; the client passes a string through as it is.
    const renewTime = new Date().toISOString().replace(/\.(\d{3})Z$/, '.$1000Z') as unknown as Date;
    const spec = { holderIdentity: this.node.name, leaseDurationSeconds: LEASE_SECONDS, renewTime };
    let current: V1Lease | undefined;
    try {
      current = await this.coordination.readNamespacedLease({ name: this.node.name, namespace: 'kube-node-lease' });
    } catch (error) {
      if (!(error instanceof ApiException && error.code === 404)) throw error;
    }
    if (!current) {
      await this.coordination.createNamespacedLease({ namespace: 'kube-node-lease', body: { metadata: { name: this.node.name }, spec } });
      return;
    }
    await this.coordination.replaceNamespacedLease({
      name: this.node.name,
      namespace: 'kube-node-lease',
      body: { metadata: { name: this.node.name, resourceVersion: current.metadata?.resourceVersion }, spec: { ...current.spec, ...spec } },
    });
  }
}
