// The reconcile of one TerminalSession, level-based: it receives a namespace/name, never an event
// type; reads the session and its children from the informers' caches; computes what should exist
// (desired/, pure) and makes it so; and writes status only when it changed, guarded by the
// session's resourceVersion so that a reconcile working from a stale cache cannot undo a newer
// status (an Expired session never goes back to Running). AlreadyExists is success, a conflict
// or any other API error is retried with the key's backoff, and a spec that cannot work sets a
// condition and waits for a change instead of retrying.
import type { V1ConfigMap, V1Pod, V1RoleBinding, V1ServiceAccount } from '@kubernetes/client-node';
import type { Logger } from '../../../core/src/index.js';
import {
  PLURAL, GROUP, VERSION, READY_REASONS, TERMINAL_PHASES, celViolations, startedSpecOf,
  type TerminalSession, type TerminalSessionStatus,
} from '../api/index.js';
import { isAlreadyExists, isConflict, isNotFound, type KubeClient } from '../kube/client.js';
import type { Informer } from '../kube/informer.js';
import { childNames, NAMESPACE_ENABLED_LABEL, NAMESPACE_ENABLED_VALUE } from '../desired/names.js';
import { desiredPod, type PodSettings } from '../desired/pod.js';
import { desiredRoleBinding, desiredServiceAccount, desiredTerminalConfig, isGrantable, terminalConfigMatches, TERMINAL_CONFIG_MAP, type GrantableRole } from '../desired/access.js';
import { observePod } from '../desired/observe-pod.js';
import { deleteAfterMs, sameStatus, sessionVerdict, type AgentActivity, type SpecProblem } from '../desired/session-status.js';
import type { EventRecorder } from './events.js';
import type { ProcessResult } from './work-queue.js';
import type { Clock } from './clock.js';

export interface ReconcilerSettings extends PodSettings {
  readonly publicKeyPem: string;
  /** The API server address written into the shell's kubeconfig. */
  readonly shellApiServer: string;
  readonly grantableRoles: readonly GrantableRole[];
  readonly activityPollMs: number;
  /** Labels a namespace must have for its sessions to be this installation's (empty: every namespace). */
  readonly namespaceSelector: Readonly<Record<string, string>>;
  /** How soon a session whose Role is missing is looked at again (the Role may be created). */
  readonly missingRoleRetryMs: number;
}

export interface Caches {
  readonly sessions: Informer<TerminalSession>;
  readonly pods: Informer<V1Pod>;
  /** The namespaces' terminal ConfigMaps (the public key, the shell's kubeconfig). */
  readonly configMaps: Informer<V1ConfigMap>;
  readonly serviceAccounts: Informer<V1ServiceAccount>;
  readonly roleBindings: Informer<V1RoleBinding>;
  readonly namespaces: Informer<{ metadata?: { name?: string; labels?: Record<string, string> } }>;
}

export interface ReconcilerDeps {
  readonly client: KubeClient;
  readonly caches: Caches;
  readonly settings: ReconcilerSettings;
  readonly events: EventRecorder;
  readonly clock: Clock;
  readonly log: Logger;
  /** The agent's GET /status (null when it does not answer). */
  readonly agentStatus: (endpoint: string) => Promise<AgentActivity | null>;
}

const sessionPath = (ns: string, name: string) => `/apis/${GROUP}/${VERSION}/namespaces/${ns}/${PLURAL}/${name}`;
const podsPath = (ns: string) => `/api/v1/namespaces/${ns}/pods`;
const configMapsPath = (ns: string) => `/api/v1/namespaces/${ns}/configmaps`;
const serviceAccountsPath = (ns: string) => `/api/v1/namespaces/${ns}/serviceaccounts`;
const roleBindingsPath = (ns: string) => `/apis/rbac.authorization.k8s.io/v1/namespaces/${ns}/rolebindings`;

export class Reconciler {
  /**
   * A namespace's ConfigMap being written: the sessions of a burst in a new namespace wait for one
   * create instead of each sending its own (the cache learns of it only when its watch event comes).
   */
  private readonly configWrites = new Map<string, Promise<void>>();

  constructor(private readonly deps: ReconcilerDeps) {}

  async reconcile(key: string): Promise<ProcessResult> {
    const [namespace = '', name = ''] = key.split('/');
    const session = this.deps.caches.sessions.get(namespace, name);
    // Gone, or going: the garbage collector removes what it owned (owner references).
    if (!session || session.metadata.deletionTimestamp) return { kind: 'done' };
    // Another installation's namespace: not ours to touch, not even to report on.
    if (!this.serves(namespace)) return { kind: 'done' };
    const now = this.deps.clock.now();
    const phase = session.status?.phase;
    if (phase && TERMINAL_PHASES.includes(phase)) return this.afterEnd(session, now, false);

    let pod = this.deps.caches.pods.get(namespace, childNames(session).pod);
    // A pod that exists passed these checks when it was made (later changes: changedSinceStart).
    const problem = session.status?.podName || pod ? null : await this.problemOf(session);
    if (!problem) {
      await this.ensureAccess(session);
      pod = await this.ensurePod(session, pod);
    }
    const view = observePod(pod);
    const changed = this.changedSinceStart(session, pod);
    // Asked as soon as the container runs, not only once the kubelet's probe found it ready: the
    // probe's period would otherwise be most of the wait for a first prompt.
    const agent = view.kind === 'running' && view.podIP ? await this.deps.agentStatus(`http://${view.podIP}:${this.deps.settings.agentPort}`) : null;
    const podCreatedAt = pod?.metadata?.creationTimestamp ? Date.parse(String(pod.metadata.creationTimestamp)) : null;
    const verdict = sessionVerdict(session, { pod: view, agent, problem, changed, agentPort: this.deps.settings.agentPort, pollMs: this.deps.settings.activityPollMs, podCreatedAt }, now);

    if (!sameStatus(session.status, verdict.status)) {
      await this.writeStatus(session, verdict.status);
      this.announce(session, session.status, verdict.status);
    }
    if (verdict.ended) return this.afterEnd({ ...session, status: verdict.status }, now, true);
    if (problem?.reason === READY_REASONS.RoleNotFound) return { kind: 'after', delayMs: this.deps.settings.missingRoleRetryMs };
    return verdict.requeueAfterMs === null ? { kind: 'done' } : { kind: 'after', delayMs: verdict.requeueAfterMs };
  }

  /** Whether sessions in `namespace` are this installation's (--namespace-selector). */
  serves(namespace: string): boolean {
    const labels = this.deps.caches.namespaces.get('', namespace)?.metadata?.labels ?? {};
    return Object.entries(this.deps.settings.namespaceSelector).every(([key, value]) => labels[key] === value);
  }

  /**
   * A rule the spec now breaks against the spec its pod started with (the immutability rules,
   * which servers before 1.25 do not enforce): the session is refused, not left running under a
   * spec that says something else (a changed owner must not inherit the shell).
   */
  private changedSinceStart(session: TerminalSession, pod: V1Pod | undefined): SpecProblem | null {
    const started = startedSpecOf(pod?.metadata?.annotations);
    if (!started) return null;
    const violations = celViolations(session, { metadata: session.metadata, spec: started });
    if (violations.length === 0) return null;
    return { reason: READY_REASONS.Invalid, message: `the spec changed after the session started: ${violations.map((v) => `${v.field}: ${v.message}`).join('; ')}` };
  }

  /** Why the session cannot start, checked before its pod exists; null when it can. */
  private async problemOf(session: TerminalSession): Promise<SpecProblem | null> {
    const violations = celViolations(session);
    if (violations.length > 0) {
      return { reason: READY_REASONS.Invalid, message: violations.map((v) => `${v.field}: ${v.message}`).join('; ') };
    }
    const namespace = this.deps.caches.namespaces.get('', session.metadata.namespace ?? '');
    if (namespace?.metadata?.labels?.[NAMESPACE_ENABLED_LABEL] !== NAMESPACE_ENABLED_VALUE) {
      return {
        reason: READY_REASONS.NamespaceNotEnabled,
        message: `the namespace ${session.metadata.namespace} is not enabled for terminals (label it ${NAMESPACE_ENABLED_LABEL}=${NAMESPACE_ENABLED_VALUE})`,
      };
    }
    const role = session.spec.access?.role;
    if (!role) return null;
    if (!isGrantable(role, this.deps.settings.grantableRoles)) {
      const allowed = this.deps.settings.grantableRoles.map((r) => `${r.kind}/${r.name}`).join(', ') || 'none';
      return { reason: READY_REASONS.RoleNotGrantable, message: `${role.kind}/${role.name} is not a role terminals may be granted (grantable: ${allowed})` };
    }
    const path = role.kind === 'ClusterRole' ? `/apis/rbac.authorization.k8s.io/v1/clusterroles/${role.name}` : `/apis/rbac.authorization.k8s.io/v1/namespaces/${session.metadata.namespace}/roles/${role.name}`;
    try {
      await this.deps.client.get(path);
    } catch (error) {
      if (isNotFound(error)) return { reason: READY_REASONS.RoleNotFound, message: `the ${role.kind} ${role.name} does not exist${role.kind === 'Role' ? ` in ${session.metadata.namespace}` : ''}` };
      throw error;
    }
    return null;
  }

  private async create(path: string, body: { metadata?: { name?: string } }, session: TerminalSession, kind: string): Promise<void> {
    try {
      await this.deps.client.create(path, body);
      this.deps.log.info({ namespace: session.metadata.namespace, name: body.metadata?.name, session: session.metadata.name }, `Created ${kind}`);
    } catch (error) {
      if (!isAlreadyExists(error)) throw error;
    }
  }

  private async ensureAccess(session: TerminalSession): Promise<void> {
    const ns = session.metadata.namespace ?? '';
    const names = childNames(session);
    await this.ensureTerminalConfig(ns);
    const role = session.spec.access?.role;
    if (!role) return;
    if (!this.deps.caches.serviceAccounts.get(ns, names.serviceAccount)) {
      await this.create(serviceAccountsPath(ns), desiredServiceAccount(session), session, 'ServiceAccount');
    }
    if (!this.deps.caches.roleBindings.get(ns, names.roleBinding)) {
      await this.create(roleBindingsPath(ns), desiredRoleBinding(session, role), session, 'RoleBinding');
    }
  }

  /** The namespace's terminal ConfigMap, made or put right (a changed key reaches every pod of it). */
  private ensureTerminalConfig(ns: string): Promise<void> {
    const wanted = desiredTerminalConfig(ns, this.deps.settings.publicKeyPem, this.deps.settings.shellApiServer);
    const existing = this.deps.caches.configMaps.get(ns, TERMINAL_CONFIG_MAP);
    if (existing && terminalConfigMatches(existing, wanted)) return Promise.resolve();
    const pending = this.configWrites.get(ns);
    if (pending) return pending;
    const write = (async () => {
      if (!existing) {
        try {
          await this.deps.client.create(configMapsPath(ns), wanted);
          this.deps.log.info({ namespace: ns, name: TERMINAL_CONFIG_MAP }, 'Created ConfigMap');
          return;
        } catch (error) {
          if (!isAlreadyExists(error)) throw error;
        }
      }
      await this.deps.client.patch(`${configMapsPath(ns)}/${TERMINAL_CONFIG_MAP}`, { metadata: { labels: wanted.metadata!.labels }, data: wanted.data, binaryData: null });
    })();
    // Forgotten once done: the next look reads the cache, which has it by then or soon after.
    this.configWrites.set(ns, write);
    void write.then(() => this.configWrites.delete(ns), () => this.configWrites.delete(ns));
    return write;
  }

  /**
   * The pod as it is, creating it when it was never made. A pod missing from the cache is not yet
   * known to be gone — the cache may lag behind one made moments ago: a session that already
   * named its pod reads it live before it is declared lost, and a create answered AlreadyExists
   * reads the one that exists.
   */
  private async ensurePod(session: TerminalSession, cached: V1Pod | undefined): Promise<V1Pod | undefined> {
    if (cached) return cached;
    const ns = session.metadata.namespace ?? '';
    const name = childNames(session).pod;
    const live = () =>
      this.deps.client.get<V1Pod>(`${podsPath(ns)}/${name}`).catch((error: unknown) => {
        if (isNotFound(error)) return undefined;
        throw error;
      });
    if (session.status?.podName) return live();
    try {
      const created = await this.deps.client.create<V1Pod>(podsPath(ns), desiredPod(session, this.deps.settings));
      this.deps.log.info({ namespace: ns, name, session: session.metadata.name }, 'Created Pod');
      this.deps.events.record(session, 'Normal', 'Created', `Created pod ${name}`);
      return created;
    } catch (error) {
      if (!isAlreadyExists(error)) throw error;
      return live();
    }
  }

  private async writeStatus(session: TerminalSession, status: TerminalSessionStatus): Promise<void> {
    // A merge patch replaces what it names; fields the new status drops are sent as null.
    const patch: Record<string, unknown> = { ...status };
    for (const field of Object.keys(session.status ?? {})) if (patch[field] === undefined) patch[field] = null;
    const { namespace = '', name = '' } = session.metadata;
    try {
      await this.deps.client.patch(`${sessionPath(namespace, name)}/status`, { metadata: { resourceVersion: session.metadata.resourceVersion }, status: patch });
    } catch (error) {
      // Gone meanwhile: nothing to report on. A conflict: a newer version exists; its event requeues.
      if (isNotFound(error)) return;
      throw error;
    }
  }

  /** Events for what a user wants to see in `kubectl describe ts`: starts and ends. */
  private announce(session: TerminalSession, before: TerminalSessionStatus | undefined, after: TerminalSessionStatus): void {
    if (before?.phase === after.phase) {
      const reason = after.conditions?.find((c) => c.type === 'Ready')?.reason;
      const old = before?.conditions?.find((c) => c.type === 'Ready')?.reason;
      if (reason && reason !== old && reason !== READY_REASONS.Pending) this.deps.events.record(session, 'Warning', reason, after.message ?? reason);
      return;
    }
    const reason = after.conditions?.find((c) => c.type === 'Ready')?.reason ?? after.phase ?? 'Unknown';
    switch (after.phase) {
      case 'Running':
        return this.deps.events.record(session, 'Normal', 'Started', `The terminal is ready at ${after.endpoint}`);
      case 'Expired':
        return this.deps.events.record(session, 'Normal', 'Expired', after.message ?? reason);
      case 'Succeeded':
        return this.deps.events.record(session, 'Normal', 'Exited', after.message ?? reason);
      case 'Failed':
        return this.deps.events.record(session, 'Warning', reason, after.message ?? reason);
      default:
        if (reason !== READY_REASONS.Pending) this.deps.events.record(session, 'Warning', reason, after.message ?? reason);
    }
  }

  /**
   * An ended session keeps nothing running: its pod, ServiceAccount and RoleBinding go now
   * (owner references would only remove them with the session), and the session itself goes after
   * ttlAfterEnd unless it asks to be kept.
   */
  private async afterEnd(session: TerminalSession, now: number, justEnded: boolean): Promise<ProcessResult> {
    const ns = session.metadata.namespace ?? '';
    const names = childNames(session);
    const { caches, client } = this.deps;
    // Just ended: delete blindly, the caches may not know of a child made moments ago.
    const children: Array<[boolean, string]> = [
      [justEnded || !!caches.pods.get(ns, names.pod), `${podsPath(ns)}/${names.pod}`],
      [justEnded || !!caches.roleBindings.get(ns, names.roleBinding), `${roleBindingsPath(ns)}/${names.roleBinding}`],
      [justEnded || !!caches.serviceAccounts.get(ns, names.serviceAccount), `${serviceAccountsPath(ns)}/${names.serviceAccount}`],
    ];
    await Promise.all(children.filter(([present]) => present).map(([, path]) => client.delete(path)));
    const wait = deleteAfterMs(session, now);
    if (wait === null) return { kind: 'done' };
    if (wait > 0) return { kind: 'after', delayMs: wait };
    await client.delete(sessionPath(ns, session.metadata.name ?? ''), { uid: session.metadata.uid }).catch((error: unknown) => {
      // Replaced by a new session of the same name meanwhile: not ours to delete.
      if (!isConflict(error)) throw error;
    });
    this.deps.log.info({ namespace: ns, name: session.metadata.name }, 'Deleted TerminalSession after its end');
    return { kind: 'done' };
  }
}
