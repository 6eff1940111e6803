// What the parts of one pod's worker share: the kubelet's context, the pod as last seen, its
// record and folder, and the worker's timers and sync trigger. The worker (pod-worker.ts) is the
// one implementation; container-runner.ts, pod-termination.ts, pod-status-writer.ts and
// pod-volume-sources.ts each do one part of a sync through it.
import type { CoreV1Api, V1Container, V1Pod } from '@kubernetes/client-node';
import type { ApiServerAddress, ObjectReader } from './pod-environment.js';
import type { PodRecord } from './pod-records.js';
import type { PodVolumes } from './volumes.js';

export interface WorkerLog {
  info(message: string, fields?: Record<string, unknown>): void;
  warn(message: string, fields?: Record<string, unknown>): void;
}

export interface WorkerContext {
  readonly core: CoreV1Api;
  readonly podsDir: string;
  readonly rootDir: string;
  readonly apiServer: ApiServerAddress;
  readonly reader: ObjectReader;
  readonly volumes: PodVolumes;
  readonly execPath: string;
  /** Runs no processes: containers are Running and ready as soon as the pod is seen. */
  readonly light: boolean;
  readonly restartBackoffMs: number;
  readonly log: WorkerLog;
  /** The worker is done (its pod deleted and its processes gone): release its address. */
  finished(uid: string, podIp: string): void;
}

export interface PodScope {
  readonly context: WorkerContext;
  /** The newest version of the pod object seen. */
  readonly pod: V1Pod;
  readonly record: PodRecord;
  readonly podDir: string;
  /** `namespace/name`, for the log. */
  readonly key: string;
  /** The worker has finished or shut down: nothing more is started, synced or reported. */
  readonly done: boolean;
  /** The pod is being deleted: nothing restarts, and an exit without a code was the kill. */
  readonly terminating: boolean;
  containers(): V1Container[];
  /** Runs `fn` after `ms` unless the worker ends first. */
  after(ms: number, fn: () => void): void;
  /** Asks for a sync (they never overlap; the last request wins). */
  kick(): void;
}
