// An informer: a cache of one kind of object kept current by list + watch. The watch resumes from
// the last resourceVersion it saw when the server ends it (every watch asks for a timeout, so a
// silently dead connection cannot hold it forever); a 410 Gone (the version left the server's
// window) or a failed watch starts over with a fresh list, after a backoff when it failed, and the
// relist reports what changed meanwhile — deletions included. Every `resyncMs` the handler is
// called for every cached object, so that time-driven work (expiry) and a missed event are
// caught up even when nothing changes.
import type { KubeClient, WatchEvent, WatchHandle } from './client.js';
import { KubeApiError } from './client.js';
import type { Clock } from '../controller/clock.js';

/** What the informer reads of an object (the generated Kubernetes types and ours both fit). */
export interface KubeObject {
  readonly metadata?: { readonly name?: string; readonly namespace?: string; readonly resourceVersion?: string };
}

interface List<T> {
  readonly metadata?: { readonly resourceVersion?: string };
  readonly items: T[];
}

export type InformerEvent = 'added' | 'modified' | 'deleted' | 'resync';

export interface InformerOptions<T> {
  readonly client: KubeClient;
  /** The collection, e.g. /api/v1/pods or /apis/cloudterm.io/v1alpha1/terminalsessions. */
  readonly path: string;
  readonly labelSelector?: string;
  /** 0: never. */
  readonly resyncMs: number;
  /** Seconds each watch asks the server to last (jittered by up to a quarter). */
  readonly watchTimeoutSeconds: number;
  readonly clock: Clock;
  readonly onEvent: (event: InformerEvent, object: T) => void;
  readonly onError: (error: unknown) => void;
}

const keyOf = (object: KubeObject): string => `${object.metadata?.namespace ?? ''}/${object.metadata?.name ?? ''}`;
const MAX_RETRY_MS = 30_000;

export class Informer<T extends KubeObject> {
  private readonly cache = new Map<string, T>();
  private resourceVersion = '';
  private watch: WatchHandle | null = null;
  private stopped = false;
  private synced = false;
  private failures = 0;
  private cancelResync: (() => void) | null = null;
  private cancelRetry: (() => void) | null = null;
  private loop: Promise<void> | null = null;
  private syncWaiters: Array<() => void> = [];
  /** Lists made (the first and every relist), for metrics and tests. */
  lists = 0;

  constructor(private readonly options: InformerOptions<T>) {}

  get hasSynced(): boolean {
    return this.synced;
  }

  get(namespace: string, name: string): T | undefined {
    return this.cache.get(`${namespace}/${name}`);
  }

  list(): T[] {
    return [...this.cache.values()];
  }

  start(): void {
    this.loop = this.run();
    this.scheduleResync();
  }

  /** Resolves once the first list is in the cache. */
  waitForSync(): Promise<void> {
    if (this.synced) return Promise.resolve();
    return new Promise((resolve) => this.syncWaiters.push(resolve));
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.cancelResync?.();
    this.cancelRetry?.();
    this.watch?.abort();
    await this.loop;
  }

  private scheduleResync(): void {
    if (this.options.resyncMs <= 0) return;
    this.cancelResync = this.options.clock.setTimeout(() => {
      if (this.stopped) return;
      for (const object of this.cache.values()) this.options.onEvent('resync', object);
      this.scheduleResync();
    }, this.options.resyncMs);
  }

  private async run(): Promise<void> {
    while (!this.stopped) {
      try {
        if (!this.resourceVersion) await this.relist();
        await this.watchOnce();
        this.failures = 0;
      } catch (error) {
        if (this.stopped) return;
        if (error instanceof KubeApiError && error.status === 410) {
          this.resourceVersion = '';
          continue;
        }
        this.options.onError(error);
        // Start over from a list: events may have been lost while the watch was down.
        this.resourceVersion = '';
        this.failures += 1;
        await this.pause(Math.min(MAX_RETRY_MS, 250 * 2 ** (this.failures - 1)));
      }
    }
  }

  /** Waits `ms`, or less when stopped (a stop must not wait out a retry delay). */
  private pause(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const cancel = this.options.clock.setTimeout(resolve, ms);
      this.cancelRetry = () => {
        cancel();
        resolve();
      };
    });
  }

  private async relist(): Promise<void> {
    const list = await this.options.client.get<List<T>>(this.options.path, { labelSelector: this.options.labelSelector });
    this.lists += 1;
    const seen = new Set<string>();
    for (const item of list.items) {
      const key = keyOf(item);
      seen.add(key);
      const old = this.cache.get(key);
      this.cache.set(key, item);
      if (!old) this.options.onEvent('added', item);
      else if (old.metadata?.resourceVersion !== item.metadata?.resourceVersion) this.options.onEvent('modified', item);
    }
    for (const [key, old] of this.cache) {
      if (seen.has(key)) continue;
      this.cache.delete(key);
      this.options.onEvent('deleted', old);
    }
    this.resourceVersion = list.metadata?.resourceVersion ?? '';
    if (!this.synced) {
      this.synced = true;
      for (const resolve of this.syncWaiters.splice(0)) resolve();
    }
  }

  private async watchOnce(): Promise<void> {
    const timeout = Math.round(this.options.watchTimeoutSeconds * (1 + Math.random() / 4));
    let expired: KubeApiError | null = null;
    const handle = await this.options.client.watch<T>(
      this.options.path,
      { resourceVersion: this.resourceVersion, allowWatchBookmarks: true, timeoutSeconds: timeout, labelSelector: this.options.labelSelector },
      (event) => {
        if (event.type === 'ERROR') {
          const status = event.object as { code?: number; reason?: string; message?: string };
          expired = new KubeApiError(status.code ?? 500, status.reason ?? 'Unknown', status.message ?? 'watch error', 'WATCH', this.options.path);
          handle?.abort();
          return;
        }
        this.apply(event);
      },
    );
    this.watch = handle;
    if (this.stopped) handle.abort();
    // A connection that went silent (a cut network) ends here too: the server was asked to end
    // the watch after `timeout` seconds, so nothing for longer than that means it is gone.
    const cancelWatchdog = this.options.clock.setTimeout(() => handle.abort(), (timeout + 15) * 1000);
    try {
      await handle.done;
    } finally {
      cancelWatchdog();
      this.watch = null;
    }
    if (expired) throw expired;
  }

  private apply(event: WatchEvent<T>): void {
    const version = event.object.metadata?.resourceVersion;
    if (version) this.resourceVersion = version;
    if (event.type === 'BOOKMARK') return;
    const key = keyOf(event.object);
    if (event.type === 'DELETED') {
      this.cache.delete(key);
      this.options.onEvent('deleted', event.object);
      return;
    }
    const existed = this.cache.has(key);
    this.cache.set(key, event.object);
    this.options.onEvent(existed ? 'modified' : 'added', event.object);
  }
}
