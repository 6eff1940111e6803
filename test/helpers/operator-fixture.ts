// The operator on the rig: the CRD installed, the operator's own ServiceAccount bound to exactly
// the ClusterRole docs/operator.md documents (operator/rbac/*.yaml, so that the test proves the
// documented rights suffice), a gateway key pair, and operators started in-process or as a real
// `cloudterm operator` process. Everything a test starts is stopped in t.after.
import { mkdtemp, writeFile, readFile } from 'node:fs/promises';
import { createWriteStream } from 'node:fs';
import { spawn, type ChildProcess } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { KubeConfig } from '@kubernetes/client-node';
import { eventually as rigEventually, kubeconfigVia as viaServer, kubectl, serviceAccountIdentity, startKubelet, type KubeletProcess, sharedControlPlane, testNamespace, type AfterHook, type Identity } from '../kube/index.js';
import type { ControlPlane } from '../kube/control-plane.js';
import { createLogger, generateSigningKeyPair } from '../../core/src/index.js';
import { KubeClient } from '../../operator/src/kube/client.js';
import { startOperator, type OperatorSettings, type RunningOperator } from '../../operator/src/controller/operator.js';
import { systemClock } from '../../operator/src/controller/clock.js';
import { loadOperatorConfig } from '../../operator/src/config.js';
import { operatorSettings } from '../../operator/src/command.js';
import type { TerminalSession, TerminalSessionSpecInput } from '../../operator/src/api/index.js';
import { SELF_COMMAND } from './gateway-fixture.js';
import { NAMESPACE_ENABLED_LABEL, NAMESPACE_ENABLED_VALUE } from '../../operator/src/desired/names.js';

export interface OperatorRig {
  readonly plane: ControlPlane;
  /** The namespace of the operator's ServiceAccount and Lease. */
  readonly systemNamespace: string;
  readonly identity: Identity;
  readonly publicKeyFile: string;
  readonly privateKey: Awaited<ReturnType<typeof generateSigningKeyPair>>['privateKey'];
  readonly logDir: string;
}

const ROOT = new URL('../../', import.meta.url).pathname;
const installed = new WeakSet<ControlPlane>();

export async function installCrd(plane: ControlPlane): Promise<void> {
  if (installed.has(plane)) return;
  // Client-side validation of 1.21's schema refuses x-kubernetes-validations; the server drops them.
  await kubectl(['apply', '--validate=false', '-f', join(ROOT, 'crds/terminalsession.yaml')], { kubeconfig: plane });
  await kubectl(['wait', '--for=condition=Established', '--timeout=30s', 'crd/terminalsessions.cloudterm.io'], { kubeconfig: plane });
  await kubectl(['apply', '-f', join(ROOT, 'operator/rbac/cluster-role.yaml'), '-f', join(ROOT, 'operator/rbac/grantable-view.yaml')], { kubeconfig: plane });
  installed.add(plane);
}

export async function operatorRig(t: AfterHook, plane?: ControlPlane): Promise<OperatorRig> {
  const cp = plane ?? (await sharedControlPlane());
  await installCrd(cp);
  const systemNamespace = await testNamespace(t, cp, 'cloudterm-system');
  const sa = 'cloudterm-operator';
  const bindings = ['cloudterm-operator', 'cloudterm-operator-grant-view'].map((role) => ({
    apiVersion: 'rbac.authorization.k8s.io/v1',
    kind: 'ClusterRoleBinding',
    metadata: { name: `${role}-${systemNamespace}` },
    roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: role },
    subjects: [{ kind: 'ServiceAccount', name: sa, namespace: systemNamespace }],
  }));
  const manifest = { apiVersion: 'v1', kind: 'List', items: [{ apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: sa, namespace: systemNamespace } }, ...bindings] };
  await kubectl(['apply', '-f', '-'], { kubeconfig: cp, input: JSON.stringify(manifest) });
  t.after(() => kubectl(['delete', 'clusterrolebinding', ...bindings.map((b) => b.metadata.name), '--ignore-not-found'], { kubeconfig: cp, allowFailure: true }));
  const identity = await serviceAccountIdentity(cp, systemNamespace, sa, { expirationSeconds: 3600 });
  const logDir = await mkdtemp(join(tmpdir(), 'cloudterm-operator-'));
  const keys = await generateSigningKeyPair();
  const publicKeyFile = join(logDir, 'attach-public.pem');
  await writeFile(publicKeyFile, keys.publicKeyPem);
  return { plane: cp, systemNamespace, identity, publicKeyFile, privateKey: keys.privateKey, logDir };
}

/** The operator's configuration for the rig: short periods so tests see expiry and takeover quickly. */
export function rigArgs(rig: OperatorRig, extra: readonly string[] = []): string[] {
  return [
    '--kubeconfig', rig.identity.kubeconfigPath,
    '--attach-public-key-file', rig.publicKeyFile,
    '--listen', '127.0.0.1:0',
    '--lease-namespace', rig.systemNamespace,
    '--lease-duration', '4',
    '--activity-poll', '1',
    '--resync', '30',
    '--shell-api-server', rig.plane.server,
    '--grantable-roles', 'ClusterRole/view',
    // Test files share one control plane, each with its own operators: each serves its own namespaces.
    '--namespace-selector', `${RIG_LABEL}=${rig.systemNamespace}`,
    // No node has this label: without pinTo() (a later --node-selector wins) the pods stay
    // unscheduled, and never land on another file's kubelet.
    '--node-selector', 'cloudterm.io/no-such-node=true',
    ...extra,
  ];
}

export interface InProcessOperator extends RunningOperator {
  readonly identity: string;
  readonly logFile: string;
}

/** An operator replica in this process, stopped in t.after. */
export async function runOperator(t: AfterHook, rig: OperatorRig, extra: readonly string[] = [], tweak: (s: OperatorSettings) => OperatorSettings = (s) => s): Promise<InProcessOperator> {
  const identity = `replica-${randomBytes(3).toString('hex')}`;
  const config = loadOperatorConfig(rigArgs(rig, ['--identity', identity, ...extra]), {});
  const publicKeyPem = await readFile(rig.publicKeyFile, 'utf8');
  const kubeConfig = new KubeConfig();
  kubeConfig.loadFromFile(config.kubeconfig!);
  const logFile = join(rig.logDir, `${identity}.log`);
  const log = createLogger({ name: 'cloudterm-operator', base: { identity } }, createWriteStream(logFile));
  const operator = startOperator(new KubeClient(kubeConfig), tweak(operatorSettings(config, publicKeyPem)), systemClock, log);
  t.after(() => operator.stop());
  return { ...operator, identity, logFile };
}

/** Marks the namespaces of one rig, whose operators serve only them (--namespace-selector). */
const RIG_LABEL = 'cloudterm.io/test-rig';

/** A fresh namespace of the rig, labelled for terminals (or not), deleted in t.after. */
export async function tenantNamespace(t: AfterHook, rig: OperatorRig, enabled = true): Promise<string> {
  const ns = await testNamespace(t, rig.plane, 'tenant');
  const labels = [`${RIG_LABEL}=${rig.systemNamespace}`, ...(enabled ? [`${NAMESPACE_ENABLED_LABEL}=${NAMESPACE_ENABLED_VALUE}`] : [])];
  await kubectl(['label', 'namespace', ns, ...labels], { kubeconfig: rig.plane });
  return ns;
}

export function sessionManifest(namespace: string, name: string, spec: Partial<TerminalSessionSpecInput> = {}): string {
  return JSON.stringify({ apiVersion: 'cloudterm.io/v1alpha1', kind: 'TerminalSession', metadata: { name, namespace }, spec: { owner: 'alice', ...spec } });
}

export async function applySession(plane: ControlPlane, namespace: string, name: string, spec: Partial<TerminalSessionSpecInput> = {}): Promise<void> {
  await kubectl(['apply', '-f', '-'], { kubeconfig: plane, input: sessionManifest(namespace, name, spec) });
}

export async function getJson<T>(plane: ControlPlane, args: readonly string[]): Promise<T | null> {
  const result = await kubectl(['get', ...args, '-o', 'json', '--ignore-not-found'], { kubeconfig: plane });
  return result.stdout.trim() ? (JSON.parse(result.stdout) as T) : null;
}

export const getSession = (plane: ControlPlane, ns: string, name: string) => getJson<TerminalSession>(plane, ['terminalsession', name, '-n', ns]);

/** The rig's `eventually`, where false and null also mean "not yet". */
export const eventually = <T>(what: string, check: () => Promise<T | undefined | null | false>, timeoutMs = 30_000, everyMs = 200): Promise<T> =>
  rigEventually(what, async () => (await check()) || undefined, timeoutMs, everyMs) as Promise<T>;

/** The Ready condition's reason of a session, once it has one. */
export async function readyReason(plane: ControlPlane, ns: string, name: string): Promise<string | undefined> {
  const session = await getSession(plane, ns, name);
  return session?.status?.conditions?.find((c) => c.type === 'Ready')?.reason;
}

export interface OperatorProcess {
  readonly child: ChildProcess;
  readonly identity: string;
  /** Everything it logged so far. */
  output(): string;
  /** Its /healthz, /readyz, /metrics address, once it logged it. */
  readonly address: string;
  /** SIGTERM and wait (graceful: the Lease is released). */
  stop(): Promise<number | null>;
  /** SIGKILL and wait (a crash: the Lease is left to expire). */
  kill(): Promise<void>;
}

/** `cloudterm operator` as a process of its own (for crashes and takeovers), stopped in t.after. */
export async function spawnOperator(t: AfterHook, rig: OperatorRig, extra: readonly string[] = []): Promise<OperatorProcess> {
  const identity = `process-${randomBytes(3).toString('hex')}`;
  const [command, ...prefix] = SELF_COMMAND;
  const child = spawn(command!, [...prefix, 'operator', ...rigArgs(rig, ['--identity', identity, ...extra])], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { PATH: process.env.PATH, HOME: rig.logDir },
  });
  let out = '';
  child.stdout!.on('data', (chunk: Buffer) => (out += chunk));
  child.stderr!.on('data', (chunk: Buffer) => (out += chunk));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const wait = async () => (child.exitCode !== null || child.signalCode !== null ? child.exitCode : exited);
  t.after(async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await wait();
  });
  const started = await eventually('the operator to start', async () => {
    if (child.exitCode !== null) throw new Error(`the operator exited with ${child.exitCode}:\n${out}`);
    const line = out.split('\n').find((l) => l.includes('"Operator started"'));
    return line ? (JSON.parse(line) as { listen: string }) : undefined;
  }, 30_000, 50);
  return {
    child,
    identity,
    address: started.listen,
    output: () => out,
    stop: async () => {
      child.kill('SIGTERM');
      return wait();
    },
    kill: async () => {
      child.kill('SIGKILL');
      await wait();
    },
  };
}

export interface LeaseView {
  readonly spec: { holderIdentity?: string; leaseTransitions?: number };
}

export const leaseHolder = async (rig: OperatorRig): Promise<string | undefined> =>
  (await getJson<LeaseView>(rig.plane, ['lease', 'cloudterm-operator', '-n', rig.systemNamespace]))?.spec.holderIdentity;

/** The operator's kubeconfig pointed at another address of the same server (a proxy in front of it). */
export const kubeconfigVia = (rig: OperatorRig, server: string): Promise<string> =>
  viaServer(rig.identity.kubeconfigPath, server, join(rig.logDir, `via-${randomBytes(3).toString('hex')}.kubeconfig`));

/**
 * A rig kubelet of the file's own that runs the terminal pods. The operator pins its pods there
 * (--node-selector, --tolerate-taint).
 */
let fileKubelet: Promise<KubeletProcess> | undefined;
export function operatorKubelet(plane: ControlPlane): Promise<KubeletProcess> {
  // Shared by the file's tests; the rig's guardian stops it (and its pods' processes) when this
  // process ends. Tainted, so that only the operator's pods (which tolerate it) land there.
  fileKubelet ??= startKubelet(plane);
  return fileKubelet;
}

export const pinTo = (kubelet: KubeletProcess): string[] => ['--node-selector', `kubernetes.io/hostname=${kubelet.nodeName}`, '--tolerate-taint', `cloudterm.io/rig-node=${kubelet.nodeName}`];
