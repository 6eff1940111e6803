// The session's Secret (the gateway's public key, and the shell's kubeconfig when it has rights),
// and, when spec.access asks for rights, its ServiceAccount and the RoleBinding — never a
// ClusterRoleBinding — that gives it the named Role or ClusterRole in the session's namespace
// only. The kubeconfig carries no credential: it names the projected token file, which the kubelet
// renews and which dies with the pod.
import type { V1RoleBinding, V1Secret, V1ServiceAccount } from '@kubernetes/client-node';
import type { RoleRef, TerminalSession } from '../api/index.js';
import { childMeta, childNames } from './names.js';

export const SHELL_KUBE_DIR = '/var/run/cloudterm/kube';
export const SHELL_KUBECONFIG = `${SHELL_KUBE_DIR}/config`;
export const ATTACH_KEY_KEY = 'attach-public-key.pem';
export const KUBECONFIG_KEY = 'kubeconfig';
const COMPONENT = 'terminal-access';

/** A role the installation lets sessions ask for (`ClusterRole/view`, `Role/deployer`). */
export interface GrantableRole {
  readonly kind: RoleRef['kind'];
  readonly name: string;
}

export function isGrantable(role: RoleRef, grantable: readonly GrantableRole[]): boolean {
  return grantable.some((g) => g.kind === role.kind && g.name === role.name);
}

/** `ClusterRole/view,Role/deployer` → the list; a bad entry is an error message. */
export function parseGrantableRoles(text: string): GrantableRole[] | string {
  const roles: GrantableRole[] = [];
  for (const entry of text.split(',').map((e) => e.trim()).filter(Boolean)) {
    const match = /^(Role|ClusterRole)\/([a-z0-9]([-a-z0-9.:]*[a-z0-9])?)$/.exec(entry);
    if (!match) return `"${entry}" is not Role/<name> or ClusterRole/<name>`;
    roles.push({ kind: match[1] as GrantableRole['kind'], name: match[2]! });
  }
  return roles;
}

/** The shell's kubeconfig: the API server, the cluster CA and token from the projected volume, its namespace. */
export function shellKubeconfig(namespace: string, apiServer: string): string {
  const config = {
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: 'cluster', cluster: { server: apiServer, 'certificate-authority': `${SHELL_KUBE_DIR}/ca.crt` } }],
    users: [{ name: 'terminal', user: { tokenFile: `${SHELL_KUBE_DIR}/token` } }],
    contexts: [{ name: 'terminal', context: { cluster: 'cluster', user: 'terminal', namespace } }],
    'current-context': 'terminal',
  };
  return `${JSON.stringify(config, null, 2)}\n`;
}

export function desiredSecret(session: TerminalSession, publicKeyPem: string, apiServer: string): V1Secret {
  const data: Record<string, string> = { [ATTACH_KEY_KEY]: publicKeyPem };
  if (session.spec.access) data[KUBECONFIG_KEY] = shellKubeconfig(session.metadata.namespace ?? '', apiServer);
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: childMeta(session, childNames(session).secret, COMPONENT) as V1Secret['metadata'],
    type: 'Opaque',
    stringData: data,
  };
}

/** Whether a Secret read from the server carries `wanted`'s data (it holds base64 `data`). */
export function secretMatches(actual: V1Secret, wanted: V1Secret): boolean {
  const have = actual.data ?? {};
  const want = wanted.stringData ?? {};
  const keys = new Set([...Object.keys(have), ...Object.keys(want)]);
  for (const key of keys) {
    if (want[key] === undefined || have[key] === undefined) return false;
    if (Buffer.from(have[key]!, 'base64').toString('utf8') !== want[key]) return false;
  }
  return true;
}

export function desiredServiceAccount(session: TerminalSession): V1ServiceAccount {
  return {
    apiVersion: 'v1',
    kind: 'ServiceAccount',
    metadata: childMeta(session, childNames(session).serviceAccount, COMPONENT) as V1ServiceAccount['metadata'],
    // Its token reaches the pod only through the projected volume.
    automountServiceAccountToken: false,
  };
}

export function desiredRoleBinding(session: TerminalSession, role: RoleRef): V1RoleBinding {
  const names = childNames(session);
  return {
    apiVersion: 'rbac.authorization.k8s.io/v1',
    kind: 'RoleBinding',
    metadata: childMeta(session, names.roleBinding, COMPONENT) as V1RoleBinding['metadata'],
    roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: role.kind, name: role.name },
    subjects: [{ kind: 'ServiceAccount', name: names.serviceAccount, namespace: session.metadata.namespace }],
  };
}
