// The containers of one pod as processes: started (or, left by an earlier kubelet, adopted),
// followed through their readiness probe to their exit, which is recorded and answered by the
// pod's restartPolicy. What cannot start waits with the reason a kubelet gives (ErrImagePull,
// CreateContainerConfigError) and is tried again later, not on every pod event.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { V1Container } from '@kubernetes/client-node';
import { ImageError } from './images.js';
import { ConfigError } from './pod-environment.js';
import { launchContainer, programPid, recordedExit } from './container-launch.js';
import { rfc3339 } from './pod-status.js';
import { exitOutcome, terminatedState } from './container-exit.js';
import type { ContainerRecord } from './pod-records.js';
import type { PodScope } from './pod-scope.js';
import { runProbe } from './probes.js';
import { processStart } from './sandbox.js';
import type { VolumeSource } from './volumes.js';

const ADOPTED_POLL_MS = 500;

/** A process followed here: its readiness as the probe last judged it. */
interface Running {
  ready: boolean;
  successes: number;
  failures: number;
}

export class ContainerRunner {
  private readonly running = new Map<string, Running>();
  /** A container that could not start is tried again at this time, not on every pod event. */
  private readonly retryAt = new Map<string, number>();

  constructor(private readonly scope: PodScope) {}

  /** The containers whose process runs (started or adopted here). */
  runningNames(): string[] {
    return [...this.running.keys()];
  }

  get anyRunning(): boolean {
    return this.running.size > 0;
  }

  /** Starts, adopts or leaves the container, as its record and the pod say. */
  async sync(container: V1Container, volumes: ReadonlyMap<string, VolumeSource>): Promise<void> {
    const state = this.scope.record.containers[container.name]!;
    if (this.running.has(container.name) || state.final) return;
    if (state.shimPid !== undefined) {
      // Left by an earlier kubelet (or by us, before a restart of ours): adopt it if it still runs.
      if (processStart(state.shimPid) === state.shimStart) {
        this.adopt(container, state);
        return;
      }
      this.exited(container, state, recordedExit(this.scope.podDir, container.name, state.attempt), 'The container could not be located when the kubelet started again');
      if (state.final || this.running.has(container.name)) return;
    }
    if (state.state.kind === 'waiting' && state.state.reason === 'CrashLoopBackOff') return; // its timer restarts it
    if ((this.retryAt.get(container.name) ?? 0) > Date.now()) return;
    await this.start(container, state, volumes);
  }

  private async start(container: V1Container, state: ContainerRecord, volumes: ReadonlyMap<string, VolumeSource>): Promise<void> {
    const { context, record, podDir } = this.scope;
    const startedAt = rfc3339();
    if (context.light) {
      state.state = { kind: 'running', startedAt, ready: true };
      state.final = true; // nothing runs, nothing can exit
      return;
    }
    try {
      const attempt = state.attempt + 1;
      const spawned = await launchContainer(this.scope.pod, container, attempt, {
        podsDir: context.podsDir,
        podDir,
        rootDir: context.rootDir,
        podIp: record.podIp,
        apiServer: context.apiServer,
        reader: context.reader,
        volumes,
        execPath: context.execPath,
      });
      state.attempt = attempt;
      state.shimPid = spawned.pid;
      state.shimStart = processStart(spawned.pid);
      state.state = { kind: 'running', startedAt, ready: false };
      context.log.info('Started container', { pod: this.scope.key, container: container.name, pid: spawned.pid });
      this.follow(container, state, spawned.exited);
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
    this.scope.after(ms, () => this.scope.kick());
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
    this.scope.context.log.info('Adopted container', { pod: this.scope.key, container: container.name, pid });
    if (state.state.kind === 'running') state.state = { ...state.state, ready: false };
    this.follow(container, state, exited);
  }

  /** Follows a started or adopted process: its readiness probe, then its exit. */
  private follow(container: V1Container, state: ContainerRecord, exited: Promise<void>): void {
    const entry: Running = { ready: false, successes: 0, failures: 0 };
    const probe = container.readinessProbe;
    if (!probe) {
      entry.ready = true;
      if (state.state.kind === 'running') state.state = { ...state.state, ready: true };
    } else {
      const runOnce = async () => {
        if (!this.running.has(container.name) || this.scope.done) return;
        const ok = await runProbe(probe, container, this.scope.record.podIp);
        entry.successes = ok ? entry.successes + 1 : 0;
        entry.failures = ok ? 0 : entry.failures + 1;
        const ready = entry.ready ? entry.failures < (probe.failureThreshold ?? 3) : entry.successes >= (probe.successThreshold ?? 1);
        if (ready !== entry.ready && state.state.kind === 'running') {
          entry.ready = ready;
          state.state = { ...state.state, ready };
          this.scope.kick();
        }
        if (this.running.has(container.name)) this.scope.after((probe.periodSeconds ?? 10) * 1000, () => void runOnce());
      };
      this.scope.after((probe.initialDelaySeconds ?? 0) * 1000, () => void runOnce());
    }
    this.running.set(container.name, entry);
    void exited.then(() => {
      this.running.delete(container.name);
      if (this.scope.done) return;
      this.exited(container, state, recordedExit(this.scope.podDir, container.name, state.attempt));
      this.scope.kick();
    });
  }

  /** Records how the process ended and applies the restart policy. */
  private exited(container: V1Container, state: ContainerRecord, code: number | undefined, unknownMessage?: string): void {
    const { record, podDir, context } = this.scope;
    const terminated = terminatedState({
      code,
      programStarted: programPid(podDir, container.name, state.attempt) !== undefined,
      terminating: this.scope.terminating,
      startedAt: state.state.kind === 'running' ? state.state.startedAt : rfc3339(),
      finishedAt: rfc3339(),
      startFailure: () => this.logTail(container.name),
      unknownMessage,
    });
    state.shimPid = undefined;
    state.shimStart = undefined;
    const who = `container=${container.name} pod=${record.name}_${record.namespace}(${record.uid})`;
    const outcome = exitOutcome(terminated, this.scope.pod.spec?.restartPolicy ?? 'Always', this.scope.terminating, state.restartCount, context.restartBackoffMs, who);
    context.log.info('Container exited', { pod: this.scope.key, container: container.name, exitCode: terminated.exitCode, reason: terminated.reason, restart: outcome.restart });
    state.state = outcome.state;
    if (!outcome.restart) {
      state.final = true;
      return;
    }
    state.lastState = outcome.lastState;
    state.restartCount += 1;
    this.scope.after(outcome.backoffMs, () => {
      if (state.state.kind === 'waiting' && state.state.reason === 'CrashLoopBackOff') {
        state.state = { kind: 'waiting', reason: 'ContainerCreating' };
        this.scope.kick();
      }
    });
  }

  private logTail(container: string): string {
    try {
      return readFileSync(join(this.scope.podDir, 'logs', `${container}.log`), 'utf8').trim().split('\n').slice(-3).join('\n').slice(-512);
    } catch {
      return 'the container could not be started';
    }
  }
}
