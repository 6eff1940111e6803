// A real Kubernetes control plane for tests: the k3s server (kube-apiserver, controller manager,
// scheduler, SQLite) started as a control plane only, on free ports, in a fresh directory, with
// the audit log on and RBAC enforced. It is ready when /readyz answers and the controllers work.
// It is stopped by its PID (its process group) whatever happens: by stop(), at the owner's exit,
// and by a guardian process should the owner die without running either.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { request, type RequestOptions } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CoreV1Api, KubeConfig, RbacAuthorizationV1Api } from '@kubernetes/client-node';
import { k3sBinary } from './binaries.js';
import { freePortPair } from './free-port.js';
import { readAuditLog, type AuditEntry } from './audit-log.js';

export interface ControlPlaneOptions {
  /** Start on this k3s data directory (a restart test's own); default: a fresh one. */
  readonly dataDir?: string;
  /** The PID whose death stops the server (default: this process). */
  readonly ownerPid?: number;
  /** Keep the server running when this process exits (the shared one, stopped by the runner). */
  readonly outliveProcess?: boolean;
}

/** Where a running control plane is; enough for another process to use it. */
export interface ControlPlaneState {
  readonly dir: string;
  readonly dataDir: string;
  readonly port: number;
  readonly pid: number;
}

const READY_TIMEOUT_MS = 120_000;
const STOP_GRACE_MS = 15_000;
const GUARDIAN = fileURLToPath(new URL('./process-guardian.mjs', import.meta.url));
const AUDIT_POLICY = `apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: ["RequestReceived"]
rules:
  - level: Metadata
`;

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function signalGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    // already gone
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export class ControlPlane {
  /** `https://127.0.0.1:<port>` */
  readonly server: string;
  /** The admin kubeconfig k3s wrote (system:admin, group system:masters, the server's CA). */
  readonly kubeconfigPath: string;
  readonly auditLogPath: string;
  readonly clientCaCertPath: string;
  readonly clientCaKeyPath: string;
  private config: KubeConfig | undefined;
  private child: ChildProcess | undefined;
  private stopped = false;
  private readonly exitHook = () => signalGroup(this.pid, 'SIGTERM');

  constructor(
    /** Holds the kubeconfig, the audit log and policy, k3s's own log and (by default) its data. */
    readonly dir: string,
    readonly dataDir: string,
    readonly port: number,
    public pid: number,
    /** Shared by the files of a test run: stop() leaves it to the runner. */
    readonly shared: boolean,
    private readonly ownsDataDir: boolean,
  ) {
    this.server = `https://127.0.0.1:${port}`;
    this.kubeconfigPath = join(dir, 'kubeconfig.yaml');
    this.auditLogPath = join(dir, 'audit.log');
    this.clientCaCertPath = join(dataDir, 'server', 'tls', 'client-ca.crt');
    this.clientCaKeyPath = join(dataDir, 'server', 'tls', 'client-ca.key');
  }

  /** A client configuration for @kubernetes/client-node as cluster admin (HTTPS, verified). */
  get kubeConfig(): KubeConfig {
    if (!this.config) {
      const config = new KubeConfig();
      config.loadFromFile(this.kubeconfigPath);
      this.config = config;
    }
    return this.config;
  }

  /** The server's CA certificate (PEM), for clients that verify it. */
  get caPem(): string {
    const data = this.kubeConfig.getCurrentCluster()?.caData;
    if (!data) throw new Error(`${this.kubeconfigPath} carries no certificate-authority-data`);
    return Buffer.from(data, 'base64').toString('utf8');
  }

  /** Every request the API server handled so far (one entry per completed request). */
  auditLog(): AuditEntry[] {
    return readAuditLog(this.auditLogPath);
  }

  /** SIGKILL, as a crash would; the data directory stays for restart(). */
  async kill(): Promise<void> {
    signalGroup(this.pid, 'SIGKILL');
    await this.waitGone(5_000);
  }

  /** Starts k3s again on the same data directory and port (after kill() or a crash). */
  async restart(): Promise<void> {
    if (alive(this.pid)) await this.kill();
    await this.launch(process.pid);
    await this.waitReady();
  }

  /** SIGTERM, SIGKILL after 15 s; removes the directories it created. Safe to call twice. */
  async stop(): Promise<void> {
    if (this.shared || this.stopped) return;
    this.stopped = true;
    process.off('exit', this.exitHook);
    signalGroup(this.pid, 'SIGTERM');
    if (!(await this.waitGone(STOP_GRACE_MS))) {
      signalGroup(this.pid, 'SIGKILL');
      await this.waitGone(5_000);
    }
    await rm(this.dir, { recursive: true, force: true });
    if (this.ownsDataDir) await rm(this.dataDir, { recursive: true, force: true });
  }

  private async waitGone(timeoutMs: number): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    while (alive(this.pid)) {
      if (Date.now() > deadline) return false;
      await sleep(50);
    }
    return true;
  }

  /** Starts the k3s process (not waiting for it); used by start and restart. */
  async launch(ownerPid: number, outliveProcess = false): Promise<void> {
    const binary = await k3sBinary();
    const log = openSync(join(this.dir, 'k3s.log'), 'a');
    const child = spawn(
      binary,
      [
        'server', '--disable-agent',
        '--data-dir', this.dataDir,
        '--bind-address', '127.0.0.1',
        '--https-listen-port', String(this.port),
        '--write-kubeconfig', this.kubeconfigPath,
        '--write-kubeconfig-mode', '0600',
        '--disable', 'traefik,servicelb,metrics-server,local-storage,coredns',
        '--disable-network-policy', '--disable-cloud-controller', '--disable-helm-controller',
        '--kube-scheduler-arg=port=0', '--kube-controller-manager-arg=port=0',
        '--kube-controller-manager-arg=controllers=*,-nodeipam',
        `--kube-apiserver-arg=audit-log-path=${this.auditLogPath}`,
        `--kube-apiserver-arg=audit-policy-file=${join(this.dir, 'audit-policy.yaml')}`,
      ],
      // Its own process group, so that stopping it stops anything it starts.
      { detached: true, stdio: ['ignore', log, log] },
    );
    closeSync(log);
    if (child.pid === undefined) throw new Error(`could not start ${binary}`);
    this.child = child;
    this.pid = child.pid;
    this.config = undefined;
    child.unref();
    const guardian = spawn(process.execPath, [GUARDIAN, String(ownerPid), String(child.pid), this.ownsDataDir ? this.dir : ''], {
      detached: true,
      stdio: 'ignore',
    });
    guardian.unref();
    if (!outliveProcess) process.on('exit', this.exitHook);
  }

  /** Waits for /readyz, then for the controllers (the `view` role's aggregated rules, a namespace's ServiceAccount). */
  async waitReady(): Promise<void> {
    const started = Date.now();
    const deadline = started + READY_TIMEOUT_MS;
    const failed = () => (this.child && this.child.exitCode !== null) || !alive(this.pid);
    const giveUp = (what: string) => new Error(`k3s (${this.dir}) ${what}; its log ends:\n${this.logTail()}`);
    while (!(await this.readyz())) {
      if (failed()) throw giveUp('exited before it was ready');
      if (Date.now() > deadline) throw giveUp(`did not answer /readyz within ${READY_TIMEOUT_MS / 1000} s`);
      await sleep(250);
    }
    const core = this.kubeConfig.makeApiClient(CoreV1Api);
    const rbac = this.kubeConfig.makeApiClient(RbacAuthorizationV1Api);
    const probe = `rig-ready-${randomBytes(4).toString('hex')}`;
    await core.createNamespace({ body: { metadata: { name: probe } } });
    for (;;) {
      const account = await core.readNamespacedServiceAccount({ name: 'default', namespace: probe }).catch(() => undefined);
      const view = await rbac.readClusterRole({ name: 'view' }).catch(() => undefined);
      if (account && (view?.rules?.length ?? 0) > 0) break;
      if (failed()) throw giveUp('exited before its controllers worked');
      if (Date.now() > deadline) throw giveUp(`controllers not working within ${READY_TIMEOUT_MS / 1000} s`);
      await sleep(250);
    }
    await core.deleteNamespace({ name: probe });
  }

  private async readyz(): Promise<boolean> {
    const options: RequestOptions = { host: '127.0.0.1', port: this.port, path: '/readyz', method: 'GET', timeout: 2_000 };
    try {
      await this.kubeConfig.applyToHTTPSOptions(options);
    } catch {
      return false; // the kubeconfig is not written yet
    }
    return new Promise((resolve) => {
      const req = request(options, (res) => {
        res.resume();
        resolve(res.statusCode === 200);
      });
      req.on('error', () => resolve(false));
      req.on('timeout', () => req.destroy());
      req.end();
    });
  }

  private logTail(): string {
    try {
      return readFileSync(join(this.dir, 'k3s.log'), 'utf8').split('\n').slice(-15).join('\n');
    } catch {
      return '(no log)';
    }
  }

  state(): ControlPlaneState {
    return { dir: this.dir, dataDir: this.dataDir, port: this.port, pid: this.pid };
  }

  /** A control plane another process started (the shared one): used, never stopped, from here. */
  static attach(state: ControlPlaneState): ControlPlane {
    return new ControlPlane(state.dir, state.dataDir, state.port, state.pid, true, false);
  }
}

/** Starts a control plane of this test's own (restart tests); `stop()` it in `after`. */
export async function startControlPlane(options: ControlPlaneOptions = {}): Promise<ControlPlane> {
  const dir = await mkdtemp(join(tmpdir(), 'cloudterm-k3s-'));
  const dataDir = options.dataDir ?? join(dir, 'data');
  await mkdir(dataDir, { recursive: true });
  await writeFile(join(dir, 'audit-policy.yaml'), AUDIT_POLICY);
  const port = await freePortPair();
  const plane = new ControlPlane(dir, dataDir, port, 0, options.outliveProcess ?? false, options.dataDir === undefined);
  try {
    await plane.launch(options.ownerPid ?? process.pid, options.outliveProcess);
    await plane.waitReady();
  } catch (error) {
    if (plane.pid) signalGroup(plane.pid, 'SIGKILL');
    await rm(dir, { recursive: true, force: true });
    throw error;
  }
  return plane;
}

