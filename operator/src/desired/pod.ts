// The pod that runs a session's agent, computed from the TerminalSession alone (and the
// operator's settings): a pure function, so that what a session gets is unit-tested field by
// field. Locked down by default — non-root, no privilege escalation, every capability dropped,
// seccomp RuntimeDefault, a read-only root filesystem with a writable home and /tmp, and no
// ServiceAccount token unless spec.access asks for rights.
import type { V1Container, V1EnvVar, V1Pod, V1Volume, V1VolumeMount } from '@kubernetes/client-node';
import { DEFAULT_RESOURCES, startedSpecAnnotation, type ResourceRequirements, type TerminalSession } from '../api/index.js';
import { childMeta, childNames } from './names.js';
import { SHELL_KUBE_DIR, SHELL_KUBECONFIG, KUBECONFIG_KEY, ATTACH_KEY_KEY, TERMINAL_CONFIG_MAP } from './access.js';
import { agentArgs } from '../../../agent/src/index.js';

export const TERMINAL_CONTAINER = 'terminal';
export const AGENT_PORT_NAME = 'agent';
export const HOME_DIR = '/home/cloudterm';
export const ATTACH_KEY_DIR = '/etc/cloudterm/attach';
export const ATTACH_KEY_PATH = `${ATTACH_KEY_DIR}/public-key.pem`;
export const RECORDING_DIR = '/var/lib/cloudterm/recording';
export const COMPONENT = 'terminal';

/** What the pod needs from the operator's configuration. */
export interface PodSettings {
  readonly agentPort: number;
  /** The image's non-root user and group. */
  readonly runAsUser: number;
  readonly runAsGroup: number;
  /** Lifetime of the shell's projected ServiceAccount token (the kubelet renews it). */
  readonly tokenExpirationSeconds: number;
  /** Labels the pod's node must have (dedicated terminal nodes); empty: any node. */
  readonly nodeSelector: Readonly<Record<string, string>>;
  /** NoSchedule taints (key → value) of those nodes, tolerated. */
  readonly tolerateTaints: Readonly<Record<string, string>>;
}

/** The session's resources over the operator's defaults, one value at a time. */
export function podResources(requested: ResourceRequirements | undefined): ResourceRequirements {
  const requests = { ...DEFAULT_RESOURCES.requests, ...requested?.requests };
  const limits = { ...DEFAULT_RESOURCES.limits, ...requested?.limits };
  return { requests, limits };
}

function environment(session: TerminalSession): V1EnvVar[] {
  const field = (name: string, fieldPath: string): V1EnvVar => ({ name, valueFrom: { fieldRef: { apiVersion: 'v1', fieldPath } } });
  const env: V1EnvVar[] = [
    // The downward API: the agent listens on the pod's own address (its args say $(POD_IP)).
    field('POD_IP', 'status.podIP'),
    field('POD_NAME', 'metadata.name'),
    field('POD_NAMESPACE', 'metadata.namespace'),
    { name: 'HOME', value: HOME_DIR },
  ];
  if (session.spec.access) env.push({ name: 'KUBECONFIG', value: SHELL_KUBECONFIG });
  // The user's own variables come last but cannot replace the ones the pod depends on.
  const reserved = new Set(env.map((e) => e.name));
  for (const variable of session.spec.env ?? []) {
    if (!reserved.has(variable.name)) env.push({ name: variable.name, value: variable.value ?? '' });
  }
  return env;
}

function volumes(session: TerminalSession, settings: PodSettings): { volumes: V1Volume[]; mounts: V1VolumeMount[] } {
  const names = childNames(session);
  const list: V1Volume[] = [
    { name: 'home', emptyDir: {} },
    { name: 'tmp', emptyDir: {} },
    { name: 'attach-key', configMap: { name: TERMINAL_CONFIG_MAP, items: [{ key: ATTACH_KEY_KEY, path: 'public-key.pem' }], defaultMode: 0o444 } },
  ];
  const mounts: V1VolumeMount[] = [
    { name: 'home', mountPath: HOME_DIR },
    { name: 'tmp', mountPath: '/tmp' },
    { name: 'attach-key', mountPath: ATTACH_KEY_DIR, readOnly: true },
  ];
  if (session.spec.access) {
    list.push({
      name: 'kube',
      projected: {
        defaultMode: 0o444,
        sources: [
          { serviceAccountToken: { path: 'token', expirationSeconds: settings.tokenExpirationSeconds } },
          { configMap: { name: 'kube-root-ca.crt', items: [{ key: 'ca.crt', path: 'ca.crt' }] } },
          { configMap: { name: TERMINAL_CONFIG_MAP, items: [{ key: KUBECONFIG_KEY, path: 'config' }] } },
        ],
      },
    });
    mounts.push({ name: 'kube', mountPath: SHELL_KUBE_DIR, readOnly: true });
  }
  if (session.spec.record) {
    list.push({ name: 'recording', emptyDir: {} });
    mounts.push({ name: 'recording', mountPath: RECORDING_DIR });
  }
  return { volumes: list, mounts };
}

/**
 * What runs in the PTY: spec.command with spec.args; args alone go to /bin/sh; neither is the
 * image user's login shell (the agent's default).
 */
function programOf(session: TerminalSession): string[] | undefined {
  const { command, args = [] } = session.spec;
  if (command && command.length > 0) return [...command, ...args];
  return args.length > 0 ? ['/bin/sh', ...args] : undefined;
}

export function desiredPod(session: TerminalSession, settings: PodSettings): V1Pod {
  const names = childNames(session);
  const { volumes: podVolumes, mounts } = volumes(session, settings);
  const container: V1Container = {
    name: TERMINAL_CONTAINER,
    image: session.spec.image,
    imagePullPolicy: 'IfNotPresent',
    command: ['cloudterm', 'agent'],
    args: agentArgs({
      // Kubernetes expands $(POD_IP) from the container's env (the downward API) in args.
      listen: { host: '$(POD_IP)', port: settings.agentPort },
      sessionId: session.metadata.uid ?? '',
      publicKeyFile: ATTACH_KEY_PATH,
      cols: session.spec.size.cols,
      rows: session.spec.size.rows,
      // The shell starts in its writable home unless the session says otherwise.
      cwd: session.spec.workingDir ?? HOME_DIR,
      record: session.spec.record ? `${RECORDING_DIR}/session.cast` : undefined,
      command: programOf(session),
    }),
    env: environment(session),
    ports: [{ name: AGENT_PORT_NAME, containerPort: settings.agentPort, protocol: 'TCP' }],
    // Probed every second: the first probe after the agent listens decides when the session is
    // Ready, so the period is most of the wait for a first prompt.
    readinessProbe: {
      httpGet: { path: '/status', port: AGENT_PORT_NAME },
      periodSeconds: 1,
      timeoutSeconds: 2,
      failureThreshold: 3,
    },
    resources: podResources(session.spec.resources) as V1Container['resources'],
    securityContext: {
      runAsNonRoot: true,
      runAsUser: settings.runAsUser,
      runAsGroup: settings.runAsGroup,
      allowPrivilegeEscalation: false,
      privileged: false,
      readOnlyRootFilesystem: true,
      capabilities: { drop: ['ALL'] },
      seccompProfile: { type: 'RuntimeDefault' },
    },
    volumeMounts: mounts,
    stdin: false,
    tty: false,
  };
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    // The spec it started with: on servers before 1.25 the operator checks immutability against it.
    metadata: { ...childMeta(session, names.pod, COMPONENT), annotations: startedSpecAnnotation(session.spec) } as V1Pod['metadata'],
    spec: {
      // A shell that ends is reported, never silently replaced by a fresh one.
      restartPolicy: 'Never',
      serviceAccountName: session.spec.access ? names.serviceAccount : undefined,
      // The shell's token, when it has one, is the projected volume above, not the legacy mount.
      automountServiceAccountToken: false,
      enableServiceLinks: false,
      ...(Object.keys(settings.nodeSelector).length > 0 ? { nodeSelector: { ...settings.nodeSelector } } : {}),
      ...(Object.keys(settings.tolerateTaints).length > 0
        ? { tolerations: Object.entries(settings.tolerateTaints).map(([key, value]) => ({ key, operator: 'Equal', value, effect: 'NoSchedule' })) }
        : {}),
      terminationGracePeriodSeconds: 10,
      securityContext: {
        runAsNonRoot: true,
        runAsUser: settings.runAsUser,
        runAsGroup: settings.runAsGroup,
        fsGroup: settings.runAsGroup,
        seccompProfile: { type: 'RuntimeDefault' },
      },
      containers: [container],
      volumes: podVolumes,
    },
  };
}
