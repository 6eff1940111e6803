// The rig kubelet as a process of its own beside a test (so that a test can SIGKILL it and start
// it again on the same state folder), plus one shared kubelet per test run. A private kubelet's
// Node is tainted, so the scheduler sends it nothing: pin pods to it with `spec.nodeName`.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CoreV1Api } from '@kubernetes/client-node';
import type { ControlPlane } from './control-plane.js';
import { programPid } from './kubelet/container-launch.js';
import { loadRecords } from './kubelet/pod-records.js';
import { rigConfig } from './rig-config.js';
import { shareInRun } from './shared-run.js';
import { processRunning as alive } from './wait.js';

const MAIN = fileURLToPath(new URL('./kubelet/main.ts', import.meta.url));
const GUARDIAN = fileURLToPath(new URL('./process-guardian.mjs', import.meta.url));
const READY_TIMEOUT_MS = 30_000;

export interface KubeletStartOptions {
  readonly nodeName?: string;
  /** Default: a fresh folder, removed by stop(). */
  readonly stateDir?: string;
  readonly light?: boolean;
  /** Default true for a private kubelet. */
  readonly taint?: boolean;
  readonly maxPods?: number;
  /** How the kubelet reaches the cluster (default: the plane's admin kubeconfig), e.g. through a proxy the test cuts. */
  readonly kubeconfigPath?: string;
}

export interface KubeletState {
  readonly nodeName: string;
  readonly stateDir: string;
  readonly kubeconfigPath: string;
  readonly logPath: string;
  readonly pid: number;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export class KubeletProcess {
  private stopped = false;

  constructor(
    private readonly plane: ControlPlane,
    private state: KubeletState,
    private readonly args: readonly string[],
    /** The run's shared kubelet: stop(), kill() and restart() are refused. */
    readonly shared: boolean,
    /** The state folder the guardian removes should this process die without stop(). */
    private readonly removeOnExit = '',
  ) {}

  get nodeName(): string {
    return this.state.nodeName;
  }

  get stateDir(): string {
    return this.state.stateDir;
  }

  get pid(): number {
    return this.state.pid;
  }

  /** What the kubelet logged (pino JSON lines). */
  log(): string {
    return readFileSync(this.state.logPath, 'utf8');
  }

  /** The main process of a pod's container (the program, not the shim), from the kubelet's records. */
  pidOf(podUid: string, container: string): number | undefined {
    const record = loadRecords(join(this.state.stateDir, 'pods')).get(podUid);
    const attempt = record?.containers[container]?.attempt;
    return attempt ? programPid(join(this.state.stateDir, 'pods', podUid), container, attempt) : undefined;
  }

  /** SIGKILL, as a crash would: the pods' processes stay. */
  async kill(): Promise<void> {
    this.refuseShared('kill');
    process.kill(this.state.pid, 'SIGKILL');
    while (alive(this.state.pid)) await sleep(20);
  }

  /** Starts the kubelet again on the same state folder and node name. */
  async restart(): Promise<void> {
    this.refuseShared('restart');
    if (alive(this.state.pid)) await this.kill();
    const { nodeName, stateDir, kubeconfigPath } = this.state;
    this.state = await launch({ nodeName, stateDir, kubeconfigPath }, this.args, process.pid, false, this.removeOnExit);
  }

  /** SIGTERM (the kubelet stops its pods), then deletes the Node and the state folder. */
  async stop(): Promise<void> {
    if (this.shared || this.stopped) return;
    this.stopped = true;
    if (alive(this.state.pid)) {
      process.kill(this.state.pid, 'SIGTERM');
      const deadline = Date.now() + 15_000;
      while (alive(this.state.pid) && Date.now() < deadline) await sleep(50);
      if (alive(this.state.pid)) process.kill(this.state.pid, 'SIGKILL');
    }
    const core = this.plane.kubeConfig.makeApiClient(CoreV1Api);
    await core.deleteNode({ name: this.state.nodeName }).catch(() => undefined);
    await rm(this.state.stateDir, { recursive: true, force: true });
  }

  private refuseShared(what: string): void {
    if (this.shared) throw new Error(`the run's shared kubelet cannot be told to ${what}: start one of your own`);
  }
}

type Placement = Pick<KubeletState, 'nodeName' | 'stateDir' | 'kubeconfigPath'>;

async function launch(placement: Placement, args: readonly string[], ownerPid: number, outlive = false, removeOnOwnerExit = ''): Promise<KubeletState> {
  const { nodeName, stateDir, kubeconfigPath } = placement;
  const logPath = join(stateDir, `kubelet-${Date.now()}.log`);
  await mkdir(stateDir, { recursive: true });
  const log = openSync(logPath, 'a');
  const child = spawn(process.execPath, ['--import', 'tsx', MAIN, '--kubeconfig', kubeconfigPath, '--node-name', nodeName, '--state-dir', stateDir, ...args], {
    detached: true,
    stdio: ['ignore', log, log],
  });
  closeSync(log);
  if (child.pid === undefined) throw new Error('could not start the rig kubelet');
  child.unref();
  const pid = child.pid;
  spawn(process.execPath, [GUARDIAN, String(ownerPid), String(pid), removeOnOwnerExit], { detached: true, stdio: 'ignore' }).unref();
  if (!outlive) process.on('exit', () => alive(pid) && process.kill(pid, 'SIGTERM'));
  const deadline = Date.now() + READY_TIMEOUT_MS;
  for (;;) {
    const text = readFileSync(logPath, 'utf8');
    if (text.includes('"msg":"Kubelet ready"')) break;
    if (!alive(pid) || Date.now() > deadline) {
      if (alive(pid)) process.kill(pid, 'SIGKILL');
      throw new Error(`the rig kubelet ${nodeName} did not become ready; its log:\n${text.split('\n').slice(-20).join('\n')}`);
    }
    await sleep(100);
  }
  return { nodeName, stateDir, kubeconfigPath, logPath, pid };
}

function kubeletArgs(options: KubeletStartOptions, defaultTaint: boolean): string[] {
  return [
    ...(options.light ? ['--light'] : []),
    ...((options.taint ?? defaultTaint) ? ['--taint'] : []),
    ...(options.maxPods ? ['--max-pods', String(options.maxPods)] : []),
  ];
}

/** A kubelet of this test's own; `stop()` it in `after`. */
export async function startKubelet(plane: ControlPlane, options: KubeletStartOptions = {}): Promise<KubeletProcess> {
  const nodeName = options.nodeName ?? `rig-${randomBytes(3).toString('hex')}`;
  const stateDir = options.stateDir ?? (await mkdtemp(join(tmpdir(), 'cloudterm-kubelet-')));
  const args = kubeletArgs(options, true);
  const ours = options.stateDir ? '' : stateDir;
  const placement = { nodeName, stateDir, kubeconfigPath: options.kubeconfigPath ?? plane.kubeconfigPath };
  const state = await launch(placement, args, process.pid, false, ours).catch(async (error: unknown) => {
    if (ours) await rm(ours, { recursive: true, force: true });
    throw error;
  });
  return new KubeletProcess(plane, state, args, false, ours);
}

let shared: Promise<KubeletProcess> | undefined;

/**
 * The run's kubelet on the shared control plane (node `rig-shared`, untainted: the scheduler
 * sends it any pod). Never stop it. A file run on its own gets one that stops when it exits.
 */
export function sharedKubelet(plane: ControlPlane): Promise<KubeletProcess> {
  const runDir = rigConfig.sharedRunDir;
  const args = kubeletArgs({}, false);
  shared ??= runDir
    ? shareInRun<KubeletState>(runDir, 'kubelet', async () => {
        const stateDir = await mkdtemp(join(tmpdir(), 'cloudterm-kubelet-'));
        return launch({ nodeName: 'rig-shared', stateDir, kubeconfigPath: plane.kubeconfigPath }, args, rigConfig.runnerPid ?? process.pid, true, stateDir);
      }).then((state) => new KubeletProcess(plane, state, args, true))
    : startKubelet(plane, { nodeName: 'rig-shared', taint: false });
  return shared;
}
