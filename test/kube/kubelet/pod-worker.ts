// One pod on this node, driven level-based: every change of the pod object, process exit, probe
// result or timer calls sync(), which compares what runs with what the pod asks for and fixes the
// difference, then writes the status if it changed. Syncs never overlap (one at a time, the last
// request wins). Deletion follows the kubelet: SIGTERM, SIGKILL at the end of the grace period,
// the final status, then a delete with grace 0 (only for the same pod uid).
import { readFileSync } from 'node:fs';
import { mkdir, rm, chmod } from 'node:fs/promises';
import { join } from 'node:path';
import { ApiException, PatchStrategy, setHeaderOptions, type CoreV1Api, type V1Container, type V1Pod } from '@kubernetes/client-node';
import { ImageError } from './images.js';
import { ConfigError, type ApiServerAddress, type ObjectReader } from './pod-environment.js';
import { launchContainer, podIdentity, programPid, recordedExit } from './container-launch.js';
import { podStatusPatch, rfc3339, type ContainerView } from './pod-status.js';
import { exitOutcome, terminatedState } from './container-exit.js';
import { saveRecord, type ContainerRecord, type PodRecord } from './pod-records.js';
import { runProbe } from './probes.js';
import { processStart, signalGroup, signalProcess } from './sandbox.js';
import type { PodVolumes, VolumeSource } from './volumes.js';

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

const ADOPTED_POLL_MS = 500;
const VOLUME_REFRESH_MS = 5_000;

interface Running {
  readonly exited: Promise<void>;
  readonly probe?: NodeJS.Timeout;
  ready: boolean;
  successes: number;
  failures: number;
}

export class PodWorker {
  private pod: V1Pod;
  private removed = false;
  private syncing = false;
  private again = false;
  private done = false;
  private lastWritten = '';
  private readonly running = new Map<string, Running>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private volumeSources = new Map<string, VolumeSource>();
  private volumesCheckedAt = 0;
  private termination: { deadline: number; killed: boolean } | undefined;
  /** A container that could not start is tried again at this time, not on every pod event. */
  private readonly retryAt = new Map<string, number>();
  readonly podDir: string;

  constructor(
    pod: V1Pod,
    private readonly record: PodRecord,
    private readonly context: WorkerContext,
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
    for (const name of this.running.keys()) this.terminate(name, 'SIGTERM');
    const deadline = Date.now() + graceMs;
    while (this.running.size > 0 && Date.now() < deadline) await sleep(50);
    for (const name of this.running.keys()) this.terminate(name, 'SIGKILL');
    while (this.running.size > 0) await sleep(20);
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

  private get key(): string {
    return `${this.record.namespace}/${this.record.name}`;
  }

  private after(ms: number, fn: () => void): void {
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      fn();
    }, ms);
    this.timers.add(timer);
  }

  private containers(): V1Container[] {
    return this.pod.spec?.containers ?? [];
  }

  private async sync(): Promise<void> {
    if (this.removed || this.pod.metadata?.deletionTimestamp) {
      await this.terminatePod();
      return;
    }
    await mkdir(this.podDir, { recursive: true });
    await chmod(this.podDir, 0o711);
    for (const container of this.containers()) {
      this.record.containers[container.name] ??= { attempt: 0, restartCount: 0, state: { kind: 'waiting', reason: 'ContainerCreating' } };
    }
    if (!this.context.light) await this.refreshVolumes();
    for (const container of this.containers()) await this.syncContainer(container);
    await saveRecord(this.podDir, this.record);
    await this.writeStatus();
  }

  private async refreshVolumes(): Promise<void> {
    if (Date.now() - this.volumesCheckedAt < VOLUME_REFRESH_MS && this.volumeSources.size === (this.pod.spec?.volumes ?? []).length) return;
    this.volumesCheckedAt = Date.now();
    const identity = this.containers()[0] ? podIdentity(this.pod, this.containers()[0]!) : undefined;
    const single = new Set(this.containers().map((container) => container.securityContext?.runAsUser ?? this.pod.spec?.securityContext?.runAsUser ?? 0));
    const ownership = { fsGroup: identity?.fsGroup, tokenOwner: identity?.fsGroup === undefined && single.size === 1 ? [...single][0] : undefined };
    const next = new Map<string, VolumeSource>();
    let refreshAt = Infinity;
    for (const volume of this.pod.spec?.volumes ?? []) {
      const source = await this.context.volumes.materialise(this.pod, this.record.podIp, volume, join(this.podDir, 'volumes', volume.name), ownership, this.volumeSources.get(volume.name));
      next.set(volume.name, source);
      refreshAt = Math.min(refreshAt, source.refreshAt);
    }
    this.volumeSources = next;
    // Secrets and ConfigMaps change behind the pod's back: look again (a token earlier if it is due).
    if (next.size > 0) this.after(Math.max(100, Math.min(VOLUME_REFRESH_MS, refreshAt - Date.now())), () => this.kick());
  }

  private async syncContainer(container: V1Container): Promise<void> {
    const state = this.record.containers[container.name]!;
    if (this.running.has(container.name) || state.final) return;
    if (state.shimPid !== undefined) {
      // Left by an earlier kubelet (or by us, before a restart of ours): adopt it if it still runs.
      if (processStart(state.shimPid) === state.shimStart) {
        this.adopt(container, state);
        return;
      }
      this.exited(container, state, recordedExit(this.podDir, container.name, state.attempt), 'The container could not be located when the kubelet started again');
      if (state.final || this.running.has(container.name)) return;
    }
    if (state.state.kind === 'waiting' && state.state.reason === 'CrashLoopBackOff') return; // its timer restarts it
    if ((this.retryAt.get(container.name) ?? 0) > Date.now()) return;
    await this.start(container, state);
  }

  private async start(container: V1Container, state: ContainerRecord): Promise<void> {
    const startedAt = rfc3339();
    if (this.context.light) {
      state.state = { kind: 'running', startedAt, ready: true };
      state.final = true; // nothing runs, nothing can exit
      return;
    }
    try {
      const attempt = state.attempt + 1;
      const spawned = await launchContainer(this.pod, container, attempt, {
        podsDir: this.context.podsDir,
        podDir: this.podDir,
        rootDir: this.context.rootDir,
        podIp: this.record.podIp,
        apiServer: this.context.apiServer,
        reader: this.context.reader,
        volumes: this.volumeSources,
        execPath: this.context.execPath,
      });
      state.attempt = attempt;
      state.shimPid = spawned.pid;
      state.shimStart = processStart(spawned.pid);
      state.state = { kind: 'running', startedAt, ready: false };
      this.context.log.info('Started container', { pod: this.key, container: container.name, pid: spawned.pid });
      this.watch(container, state, spawned.exited);
    } catch (error) {
      if (error instanceof ImageError) {
        // The first failure is ErrImagePull; later looks say ImagePullBackOff, as a kubelet's do.
        const reason = state.state.kind === 'waiting' && (state.state.reason === 'ErrImagePull' || state.state.reason === 'ImagePullBackOff') ? 'ImagePullBackOff' : 'ErrImagePull';
        state.state = { kind: 'waiting', reason, message: error.message };
        this.retryLater(container.name, reason === 'ErrImagePull' ? 1_000 : 10_000);
        return;
      }
      if (error instanceof ConfigError) {
        state.state = { kind: 'waiting', reason: 'CreateContainerConfigError', message: error.message };
        this.retryLater(container.name, 2_000);
        return;
      }
      throw error;
    }
  }

  private retryLater(container: string, ms: number): void {
    this.retryAt.set(container, Date.now() + ms);
    this.after(ms, () => this.kick());
  }

  private adopt(container: V1Container, state: ContainerRecord): void {
    const pid = state.shimPid!;
    const startTicks = state.shimStart;
    const exited = new Promise<void>((resolve) => {
      const poll = setInterval(() => {
        if (processStart(pid) === startTicks) return;
        clearInterval(poll);
        resolve();
      }, ADOPTED_POLL_MS);
    });
    this.context.log.info('Adopted container', { pod: this.key, container: container.name, pid });
    if (state.state.kind === 'running') state.state = { ...state.state, ready: false };
    this.watch(container, state, exited);
  }

  /** Follows a started or adopted process: its readiness probe, then its exit. */
  private watch(container: V1Container, state: ContainerRecord, exited: Promise<void>): void {
    const entry: Running = { exited, ready: false, successes: 0, failures: 0 };
    const probe = container.readinessProbe;
    if (!probe) {
      entry.ready = true;
      if (state.state.kind === 'running') state.state = { ...state.state, ready: true };
    } else {
      const runOnce = async () => {
        if (!this.running.has(container.name) || this.done) return;
        const ok = await runProbe(probe, container, this.record.podIp);
        entry.successes = ok ? entry.successes + 1 : 0;
        entry.failures = ok ? 0 : entry.failures + 1;
        const ready = entry.ready ? entry.failures < (probe.failureThreshold ?? 3) : entry.successes >= (probe.successThreshold ?? 1);
        if (ready !== entry.ready && state.state.kind === 'running') {
          entry.ready = ready;
          state.state = { ...state.state, ready };
          this.kick();
        }
        if (this.running.has(container.name)) this.after((probe.periodSeconds ?? 10) * 1000, () => void runOnce());
      };
      this.after((probe.initialDelaySeconds ?? 0) * 1000, () => void runOnce());
    }
    this.running.set(container.name, entry);
    void exited.then(() => {
      this.running.delete(container.name);
      if (this.done) return;
      this.exited(container, state, recordedExit(this.podDir, container.name, state.attempt));
      this.kick();
    });
  }

  /** Records how the process ended and applies the restart policy. */
  private exited(container: V1Container, state: ContainerRecord, code: number | undefined, unknownMessage?: string): void {
    const terminated = terminatedState({
      code,
      programStarted: programPid(this.podDir, container.name, state.attempt) !== undefined,
      terminating: this.termination !== undefined,
      startedAt: state.state.kind === 'running' ? state.state.startedAt : rfc3339(),
      finishedAt: rfc3339(),
      startFailure: () => this.logTail(container.name),
      unknownMessage,
    });
    state.shimPid = undefined;
    state.shimStart = undefined;
    const who = `container=${container.name} pod=${this.record.name}_${this.record.namespace}(${this.record.uid})`;
    const outcome = exitOutcome(terminated, this.pod.spec?.restartPolicy ?? 'Always', this.termination !== undefined, state.restartCount, this.context.restartBackoffMs, who);
    this.context.log.info('Container exited', { pod: this.key, container: container.name, exitCode: terminated.exitCode, reason: terminated.reason, restart: outcome.restart });
    state.state = outcome.state;
    if (!outcome.restart) {
      state.final = true;
      return;
    }
    state.lastState = outcome.lastState;
    state.restartCount += 1;
    this.after(outcome.backoffMs, () => {
      if (state.state.kind === 'waiting' && state.state.reason === 'CrashLoopBackOff') {
        state.state = { kind: 'waiting', reason: 'ContainerCreating' };
        this.kick();
      }
    });
  }

  private logTail(container: string): string {
    try {
      return readFileSync(join(this.podDir, 'logs', `${container}.log`), 'utf8').trim().split('\n').slice(-3).join('\n').slice(-512);
    } catch {
      return 'the container could not be started';
    }
  }

  private terminate(container: string, signal: NodeJS.Signals): void {
    const state = this.record.containers[container];
    if (!state?.shimPid) return;
    if (signal === 'SIGKILL') return signalGroup(state.shimPid, 'SIGKILL');
    const pid = programPid(this.podDir, container, state.attempt);
    if (pid) signalProcess(pid, signal);
    else signalGroup(state.shimPid, signal);
  }

  private async terminatePod(): Promise<void> {
    const graceSeconds = this.pod.metadata?.deletionGracePeriodSeconds ?? this.pod.spec?.terminationGracePeriodSeconds ?? 30;
    const deadline = Date.now() + graceSeconds * 1000;
    if (!this.termination) {
      this.termination = { deadline, killed: false };
      this.context.log.info('Killing pod', { pod: this.key, graceSeconds });
      for (const name of this.running.keys()) this.terminate(name, 'SIGTERM');
    } else if (deadline < this.termination.deadline) {
      this.termination.deadline = deadline; // the grace period was shortened
    }
    if (this.running.size > 0) {
      const left = this.termination.deadline - Date.now();
      if (left > 0) {
        this.after(Math.min(left, 200), () => this.kick());
        return;
      }
      for (const name of this.running.keys()) this.terminate(name, 'SIGKILL');
      this.termination.killed = true;
      this.after(50, () => this.kick());
      return;
    }
    // The shim is gone; its program (killed with it, or orphaned if the shim died first) must be too.
    const programs = Object.entries(this.record.containers)
      .map(([name, state]) => programPid(this.podDir, name, state.attempt))
      .filter((pid): pid is number => pid !== undefined && processStart(pid) !== undefined);
    if (programs.length > 0) {
      for (const pid of programs) signalProcess(pid, 'SIGKILL');
      this.after(20, () => this.kick());
      return;
    }
    for (const [name, state] of Object.entries(this.record.containers)) {
      if (state.state.kind !== 'terminated') {
        const startedAt = state.state.kind === 'running' ? state.state.startedAt : rfc3339();
        const code = this.context.light ? 0 : recordedExit(this.podDir, name, state.attempt) ?? 137;
        state.state = { kind: 'terminated', exitCode: code, reason: code === 0 ? 'Completed' : 'Error', startedAt, finishedAt: rfc3339() };
      }
    }
    if (!this.removed) {
      if (!this.context.light) await this.writeStatus();
      await this.context.core
        .deleteNamespacedPod({ name: this.record.name, namespace: this.record.namespace, gracePeriodSeconds: 0, body: { gracePeriodSeconds: 0, preconditions: { uid: this.record.uid } } })
        .catch((error: unknown) => {
          // Gone already, or a new pod of the same name (the uid precondition refused it): done either way.
          if (!(error instanceof ApiException && (error.code === 404 || error.code === 409))) throw error;
        });
    }
    this.done = true;
    for (const timer of this.timers) clearTimeout(timer);
    await rm(this.podDir, { recursive: true, force: true });
    this.context.finished(this.record.uid, this.record.podIp);
  }

  private view(): ContainerView[] {
    return this.containers().map((container) => {
      const state = this.record.containers[container.name]!;
      return {
        name: container.name,
        image: container.image ?? '',
        state: state.state,
        lastState: state.lastState,
        restartCount: state.restartCount,
        containerId: state.attempt > 0 || this.context.light ? `rig://${this.record.uid}/${container.name}/${state.attempt}` : undefined,
      };
    });
  }

  private async writeStatus(): Promise<void> {
    const view = { podIp: this.record.podIp, hostIp: '127.0.0.1', startTime: this.record.startTime, containers: this.view() };
    const fingerprint = JSON.stringify(view);
    if (fingerprint === this.lastWritten) return;
    try {
      await this.context.core.patchNamespacedPodStatus(
        { name: this.record.name, namespace: this.record.namespace, body: { status: podStatusPatch(this.pod, view, rfc3339()) } },
        setHeaderOptions('Content-Type', PatchStrategy.StrategicMergePatch),
      );
      this.lastWritten = fingerprint;
    } catch (error) {
      if (error instanceof ApiException && error.code === 404) return; // deleted: the watch will say so
      throw error;
    }
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
