// What a terminal pod reads besides its image: the namespace's terminal ConfigMap (the gateway's
// public key, and the shell's kubeconfig), and, when spec.access asks for rights, the session's
// ServiceAccount and the RoleBinding — never a ClusterRoleBinding — that gives it the named Role
// or ClusterRole in the session's namespace only. Neither file is a secret: a public key, and a
// kubeconfig that carries no credential (it names the projected token file, which the kubelet
// renews and which dies with the pod). Both are the same for every session of a namespace, so
// one ConfigMap per namespace holds them (as kube-root-ca.crt holds the cluster's CA), instead of
// a Secret written for each session.
import type { V1ConfigMap, V1RoleBinding, V1ServiceAccount } from '@kubernetes/client-node';
import type { RoleRef, TerminalSession } from '../api/index.js';
import { childMeta, childNames, MANAGED_BY, MANAGED_BY_LABEL, COMPONENT_LABEL } from './names.js';

export const SHELL_KUBE_DIR = '/var/run/cloudterm/kube';
export const SHELL_KUBECONFIG = `${SHELL_KUBE_DIR}/config`;
export const ATTACH_KEY_KEY = 'attach-public-key.pem';
export const KUBECONFIG_KEY = 'kubeconfig';
const COMPONENT = 'terminal-access';
/** The ConfigMap of every namespace with sessions; it stays when they are gone, like kube-root-ca.crt. */
export const TERMINAL_CONFIG_MAP = 'cloudterm-terminal';
const CONFIG_COMPONENT = 'terminal-config';

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

export function desiredTerminalConfig(namespace: string, publicKeyPem: string, apiServer: string): V1ConfigMap {
  return {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: { name: TERMINAL_CONFIG_MAP, namespace, labels: { [MANAGED_BY_LABEL]: MANAGED_BY, [COMPONENT_LABEL]: CONFIG_COMPONENT } },
    data: { [ATTACH_KEY_KEY]: publicKeyPem, [KUBECONFIG_KEY]: shellKubeconfig(namespace, apiServer) },
  };
}

/** Whether a ConfigMap read from the server holds exactly `wanted`'s data. */
export function terminalConfigMatches(actual: V1ConfigMap, wanted: V1ConfigMap): boolean {
  const have = actual.data ?? {};
  const want = wanted.data ?? {};
  const keys = new Set([...Object.keys(have), ...Object.keys(want)]);
  return [...keys].every((key) => have[key] === want[key]) && !actual.binaryData;
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
