// Leader election on a coordination.k8s.io/v1 Lease, as client-go's leaderelection does it: a
// replica takes the Lease when it is free or its holder stopped renewing for leaseDuration, renews
// it every retryPeriod, and gives up leading when it could not renew within renewDeadline (so it
// stops acting before another replica may start). Every write carries the resourceVersion it read,
// so two replicas racing for a free Lease cannot both win. Releasing on shutdown empties the
// holder, and the next replica takes over at once instead of after a lease duration.
import type { Logger } from '../../../core/src/index.js';
import { isAlreadyExists, isConflict, isNotFound, type KubeClient } from '../kube/client.js';
import type { Clock } from './clock.js';

export interface LeaseSettings {
  readonly namespace: string;
  readonly name: string;
  readonly identity: string;
  readonly leaseDurationMs: number;
  readonly renewDeadlineMs: number;
  readonly retryPeriodMs: number;
}

interface Lease {
  apiVersion: 'coordination.k8s.io/v1';
  kind: 'Lease';
  metadata: { name: string; namespace?: string; resourceVersion?: string };
  spec: { holderIdentity?: string | null; leaseDurationSeconds?: number; acquireTime?: string | null; renewTime?: string | null; leaseTransitions?: number };
}

/** MicroTime: the API server refuses a Lease time without fractional seconds. */
export const microTime = (ms: number): string => new Date(ms).toISOString().replace(/\.(\d{3})Z$/, '.$1000Z');

export interface LeaderCallbacks {
  onStartedLeading(): void;
  onStoppedLeading(): void;
}

export class LeaderElector {
  private leading = false;
  private stopped = false;
  private lastRenew = 0;
  private cancelTimer: (() => void) | null = null;
  private wake: (() => void) | null = null;
  private loop: Promise<void> | null = null;
  /** When this replica last saw the Lease held by someone else, and by whom (for the log). */
  private observed: { holder: string; renewTime: string; at: number } | null = null;

  constructor(
    private readonly client: KubeClient,
    private readonly settings: LeaseSettings,
    private readonly clock: Clock,
    private readonly log: Logger,
    private readonly callbacks: LeaderCallbacks,
  ) {}

  get isLeader(): boolean {
    return this.leading;
  }

  start(): void {
    this.loop = this.run();
  }

  /** Stops competing; a leader releases the Lease. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.cancelTimer?.();
    this.wake?.();
    await this.loop;
    if (this.leading) {
      this.setLeading(false);
      await this.release().catch((error: Error) => this.log.warn({ err: error.message }, 'Could not release the Lease'));
    }
  }

  private get path(): string {
    return `/apis/coordination.k8s.io/v1/namespaces/${this.settings.namespace}/leases`;
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      this.wake = resolve;
      this.cancelTimer = this.clock.setTimeout(resolve, ms);
    });
  }

  private setLeading(leading: boolean): void {
    if (leading === this.leading) return;
    this.leading = leading;
    if (leading) {
      this.log.info({ lease: `${this.settings.namespace}/${this.settings.name}`, identity: this.settings.identity }, 'Became the leader');
      this.callbacks.onStartedLeading();
    } else {
      this.log.warn({ lease: `${this.settings.namespace}/${this.settings.name}`, identity: this.settings.identity }, 'Stopped leading');
      this.callbacks.onStoppedLeading();
    }
  }

  private async run(): Promise<void> {
    while (!this.stopped) {
      let held = false;
      try {
        held = await this.tryAcquireOrRenew();
      } catch (error) {
        this.log.warn({ err: (error as Error).message }, 'Lease update failed');
      }
      if (this.stopped) return;
      const now = this.clock.now();
      if (held) {
        this.lastRenew = now;
        this.setLeading(true);
      } else if (this.leading && now - this.lastRenew >= this.settings.renewDeadlineMs) {
        this.log.warn({ sinceRenewMs: now - this.lastRenew }, 'No renewal within the renew deadline');
        this.setLeading(false);
      }
      await this.sleep(this.settings.retryPeriodMs);
    }
  }

  private async tryAcquireOrRenew(): Promise<boolean> {
    const now = this.clock.now();
    const { name, identity, leaseDurationMs } = this.settings;
    let lease: Lease;
    try {
      lease = await this.client.get<Lease>(`${this.path}/${name}`);
    } catch (error) {
      if (!isNotFound(error)) throw error;
      const fresh: Lease = {
        apiVersion: 'coordination.k8s.io/v1',
        kind: 'Lease',
        metadata: { name },
        spec: { holderIdentity: identity, leaseDurationSeconds: Math.ceil(leaseDurationMs / 1000), acquireTime: microTime(now), renewTime: microTime(now), leaseTransitions: 0 },
      };
      try {
        await this.client.create(this.path, fresh);
        return true;
      } catch (createError) {
        if (isAlreadyExists(createError)) return false;
        throw createError;
      }
    }
    const holder = lease.spec.holderIdentity ?? '';
    const renewTime = lease.spec.renewTime ?? '';
    // Expiry is judged on this replica's clock, from when it saw the holder's renewTime change, so
    // that clock skew between replicas cannot make a live leader look expired.
    if (!this.observed || this.observed.holder !== holder || this.observed.renewTime !== renewTime) {
      this.observed = { holder, renewTime, at: now };
    }
    const duration = (lease.spec.leaseDurationSeconds ?? Math.ceil(leaseDurationMs / 1000)) * 1000;
    const mine = holder === identity;
    if (!mine && holder !== '' && now - this.observed.at < duration) {
      if (this.leading) this.log.warn({ holder }, 'The Lease is held by another replica');
      return false;
    }
    const spec: Lease['spec'] = {
      ...lease.spec,
      holderIdentity: identity,
      leaseDurationSeconds: Math.ceil(leaseDurationMs / 1000),
      renewTime: microTime(now),
      ...(mine ? {} : { acquireTime: microTime(now), leaseTransitions: (lease.spec.leaseTransitions ?? 0) + 1 }),
    };
    try {
      await this.client.replace(`${this.path}/${name}`, { ...lease, spec });
      return true;
    } catch (error) {
      if (isConflict(error)) {
        this.log.warn({ lease: `${this.settings.namespace}/${name}` }, 'The Lease changed while renewing it (conflict)');
        return false;
      }
      throw error;
    }
  }

  private async release(): Promise<void> {
    const lease = await this.client.get<Lease>(`${this.path}/${this.settings.name}`);
    if (lease.spec.holderIdentity !== this.settings.identity) return;
    const now = microTime(this.clock.now());
    await this.client.replace(`${this.path}/${this.settings.name}`, {
      ...lease,
      spec: { ...lease.spec, holderIdentity: '', leaseDurationSeconds: 1, renewTime: now, acquireTime: now },
    });
    this.log.info({ lease: `${this.settings.namespace}/${this.settings.name}` }, 'Released the Lease');
  }
}
