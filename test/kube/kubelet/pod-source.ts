// The pods bound to one node, kept current by list + watch: a watch that ends or breaks resumes
// from the last resourceVersion seen; a 410 Gone (the version is too old, e.g. after the API
// server restarted: its watch cache starts at the current version) relists. Every relist hands
// the whole set to the consumer, who reconciles (a pod missing from it was deleted while we were
// not watching).
import { CoreV1Api, Watch, type KubeConfig, type V1Pod } from '@kubernetes/client-node';

export interface PodConsumer {
  /** The complete set after a (re)list. */
  replace(pods: readonly V1Pod[]): void;
  /** One pod changed or appeared. */
  upsert(pod: V1Pod): void;
  /** One pod is gone from the API. */
  remove(pod: V1Pod): void;
}

export interface PodSourceLog {
  info(message: string, fields?: Record<string, unknown>): void;
  warn(message: string, fields?: Record<string, unknown>): void;
}

const RETRY_MIN_MS = 250;
const RETRY_MAX_MS = 5_000;
/** Watches end on the server's side after this; resumed at once from the last version. */
const WATCH_TIMEOUT_SECONDS = 300;

export class PodSource {
  private resourceVersion: string | undefined;
  private abort: AbortController | undefined;
  private stopped = false;
  private delayMs = RETRY_MIN_MS;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly config: KubeConfig,
    private readonly nodeName: string,
    private readonly consumer: PodConsumer,
    private readonly log: PodSourceLog,
  ) {}

  start(): void {
    void this.list();
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
    this.abort?.abort();
  }

  private retry(next: () => Promise<void>): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => void next(), this.delayMs);
    this.delayMs = Math.min(this.delayMs * 2, RETRY_MAX_MS);
  }

  private async list(): Promise<void> {
    if (this.stopped) return;
    try {
      const core = this.config.makeApiClient(CoreV1Api);
      const list = await core.listPodForAllNamespaces({ fieldSelector: `spec.nodeName=${this.nodeName}` });
      this.resourceVersion = list.metadata?.resourceVersion;
      this.log.info('Listed pods', { pods: list.items.length, resourceVersion: this.resourceVersion });
      this.consumer.replace(list.items);
      this.delayMs = RETRY_MIN_MS;
      void this.watch();
    } catch (error) {
      this.log.warn('Listing pods failed; retrying', { error: (error as Error).message, retryMs: this.delayMs });
      this.retry(() => this.list());
    }
  }

  private async watch(): Promise<void> {
    if (this.stopped) return;
    // The server's Status for a version it no longer has (an ERROR event in a 200 stream):
    // `{code: 410, reason: 'Expired', message: 'too old resource version: 1 (345)'}`.
    let gone: { message?: string } | undefined;
    const watch = new Watch(this.config);
    const ended = new Promise<unknown>((resolve) => {
      watch
        .watch(
          '/api/v1/pods',
          {
            fieldSelector: `spec.nodeName=${this.nodeName}`,
            resourceVersion: this.resourceVersion,
            allowWatchBookmarks: true,
            timeoutSeconds: WATCH_TIMEOUT_SECONDS,
          },
          (type: string, object: V1Pod & { code?: number; message?: string }) => {
            if (type === 'ERROR') {
              if (object.code === 410) gone = { message: object.message };
              return;
            }
            const version = object.metadata?.resourceVersion;
            if (version) this.resourceVersion = version;
            if (type === 'ADDED' || type === 'MODIFIED') this.consumer.upsert(object);
            else if (type === 'DELETED') this.consumer.remove(object);
            this.delayMs = RETRY_MIN_MS;
          },
          resolve,
        )
        .then(
          (controller) => (this.abort = controller),
          resolve,
        );
    });
    const error = await ended;
    if (this.stopped) return;
    if (gone) {
      this.log.info('Pod watch expired (410 Gone); listing again', { resourceVersion: this.resourceVersion, status: gone.message });
      void this.list();
      return;
    }
    if (error) {
      this.log.warn('Pod watch broke; resuming', { error: (error as Error).message ?? String(error), retryMs: this.delayMs });
      this.retry(() => this.watch());
      return;
    }
    void this.watch();
  }
}
