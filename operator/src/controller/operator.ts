// The operator assembled: informers for TerminalSessions, what they own and the namespaces, one
// work queue, the reconciler, leader election, metrics and health. Every replica keeps its caches
// warm; only the leader reconciles. A replica that loses the Lease stops acting at once and ends
// (`done` resolves), to be restarted with a clean slate, as controller-runtime's managers do.
import type { V1ConfigMap, V1Pod, V1RoleBinding, V1ServiceAccount } from '@kubernetes/client-node';
import type { Logger } from '../../../core/src/index.js';
import { GROUP, PLURAL, VERSION, type TerminalSession } from '../api/index.js';
import type { KubeClient } from '../kube/client.js';
import { Informer, type InformerEvent, type KubeObject } from '../kube/informer.js';
import { controllingSession, MANAGED_SELECTOR } from '../desired/names.js';
import { WorkQueue } from './work-queue.js';
import { Reconciler, type Caches, type ReconcilerSettings } from './reconciler.js';
import { LeaderElector, type LeaseSettings } from './leader-election.js';
import { createEventRecorder } from './events.js';
import { createOperatorMetrics, type OperatorMetrics } from './metrics.js';
import { fetchAgentStatus } from './agent-status.js';
import type { Clock } from './clock.js';

export interface OperatorSettings {
  readonly reconciler: ReconcilerSettings;
  readonly lease: LeaseSettings;
  readonly concurrency: number;
  readonly resyncMs: number;
  readonly watchTimeoutSeconds: number;
  readonly agentTimeoutMs: number;
}

export interface RunningOperator {
  readonly metrics: OperatorMetrics;
  readonly caches: Caches;
  readonly queue: WorkQueue;
  isLeader(): boolean;
  /** The caches are synced. */
  ready(): boolean;
  /** Resolves when the operator stopped: by `stop`, or because it lost the Lease (`'lost-lease'`). */
  readonly done: Promise<'stopped' | 'lost-lease'>;
  stop(): Promise<void>;
}

const keyOf = (object: KubeObject): string => `${object.metadata?.namespace ?? ''}/${object.metadata?.name ?? ''}`;

export function startOperator(client: KubeClient, settings: OperatorSettings, clock: Clock, log: Logger): RunningOperator {
  const queue = new WorkQueue({ concurrency: settings.concurrency, baseDelayMs: 250, maxDelayMs: 5 * 60_000, clock });
  let metrics: OperatorMetrics;
  const onError = (kind: string) => (error: unknown) => {
    metrics.errors.inc({ kind });
    log.warn({ kind, err: (error as Error).message }, 'Watch failed: relisting');
  };
  const informer = <T extends KubeObject>(path: string, onEvent: (event: InformerEvent, object: T) => void, labelSelector?: string, resyncMs = 0) =>
    new Informer<T>({ client, path, labelSelector, resyncMs, watchTimeoutSeconds: settings.watchTimeoutSeconds, clock, onEvent, onError: onError(`watch ${path}`) });
  // Children of another installation's sessions are watched too (one cluster-wide watch per
  // kind), but their churn must not become work here: only served namespaces are queued.
  const enqueueOwner = (_event: InformerEvent, object: KubeObject & { metadata?: { ownerReferences?: unknown } }) => {
    const owner = controllingSession(object as never);
    if (owner && reconciler.serves(object.metadata?.namespace ?? '')) queue.add(owner);
  };
  const caches: Caches = {
    // Sessions of namespaces another installation serves are not even queued.
    sessions: informer<TerminalSession>(`/apis/${GROUP}/${VERSION}/${PLURAL}`, (_event, session) => {
      if (reconciler.serves(session.metadata.namespace ?? '')) queue.add(keyOf(session));
    }, undefined, settings.resyncMs),
    pods: informer<V1Pod>('/api/v1/pods', enqueueOwner, MANAGED_SELECTOR),
    // A namespace's ConfigMap changed or went: one of its sessions puts it right (any one will do).
    configMaps: informer<V1ConfigMap>('/api/v1/configmaps', (event, configMap) => {
      const ns = configMap.metadata?.namespace ?? '';
      if (event === 'added' || !reconciler.serves(ns)) return;
      const session = caches.sessions.list().find((s) => s.metadata.namespace === ns);
      if (session) queue.add(keyOf(session));
    }, MANAGED_SELECTOR),
    serviceAccounts: informer<V1ServiceAccount>('/api/v1/serviceaccounts', enqueueOwner, MANAGED_SELECTOR),
    roleBindings: informer<V1RoleBinding>('/apis/rbac.authorization.k8s.io/v1/rolebindings', enqueueOwner, MANAGED_SELECTOR),
    // A namespace enabled (or disabled) for terminals: its sessions are looked at again.
    namespaces: informer('/api/v1/namespaces', (_event, namespace) => {
      const name = namespace.metadata?.name ?? '';
      if (!reconciler.serves(name)) return;
      for (const session of caches.sessions.list()) if (session.metadata.namespace === name) queue.add(keyOf(session));
    }),
  };
  const all = Object.values(caches) as Array<Informer<KubeObject>>;

  const events = createEventRecorder(client, clock, log, settings.lease.identity);
  const reconciler = new Reconciler({ client, caches, settings: settings.reconciler, events, clock, log, agentStatus: fetchAgentStatus(settings.agentTimeoutMs) });
  let elector: LeaderElector;
  metrics = createOperatorMetrics({ queueDepth: () => queue.depth, sessions: () => caches.sessions.list(), isLeader: () => elector.isLeader, eventsDropped: () => events.dropped });

  let finish!: (how: 'stopped' | 'lost-lease') => void;
  const done = new Promise<'stopped' | 'lost-lease'>((resolve) => (finish = resolve));
  const synced = Promise.all(all.map((i) => i.waitForSync()));
  let isSynced = false;
  void synced.then(() => (isSynced = true));

  const processKey = async (key: string) => {
    const started = performance.now();
    try {
      const result = await reconciler.reconcile(key);
      metrics.reconciles.inc({ result: result.kind === 'after' ? 'requeue' : 'success' });
      return result;
    } catch (error) {
      metrics.reconciles.inc({ result: 'error' });
      metrics.errors.inc({ kind: 'reconcile' });
      log.warn({ key, err: (error as Error).message }, 'Reconcile failed: retrying with backoff');
      return { kind: 'retry' as const, error };
    } finally {
      metrics.observeLatency((performance.now() - started) / 1000);
    }
  };

  let stopping: Promise<void> | null = null;
  const stop = (how: 'stopped' | 'lost-lease') => {
    stopping ??= (async () => {
      await queue.shutdown();
      await elector.stop();
      await Promise.all(all.map((i) => i.stop()));
      client.close();
      finish(how);
    })();
    return stopping;
  };

  elector = new LeaderElector(client, settings.lease, clock, log, {
    onStartedLeading: () => {
      void synced.then(() => {
        if (stopping) return;
        queue.start(processKey);
        for (const session of caches.sessions.list()) queue.add(keyOf(session));
      });
    },
    onStoppedLeading: () => void stop('lost-lease'),
  });
  for (const i of all) i.start();
  elector.start();

  return {
    metrics,
    caches,
    queue,
    isLeader: () => elector.isLeader,
    ready: () => isSynced,
    done,
    stop: () => stop('stopped'),
  };
}
