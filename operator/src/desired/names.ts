// Deterministic names and labels of what a TerminalSession owns: the same session always yields
// the same children, so a reconcile after a crash finds what the last one made instead of making a
// second pod. One name serves every kind (a pod, a ServiceAccount and a RoleBinding may share
// one), prefixed so that a user's own objects named like the session do not collide.
import { createHash } from 'node:crypto';
import { API_VERSION, KIND, type ObjectMeta, type TerminalSession } from '../api/index.js';

export const MANAGED_BY_LABEL = 'app.kubernetes.io/managed-by';
export const MANAGED_BY = 'cloudterm-operator';
export const COMPONENT_LABEL = 'app.kubernetes.io/component';
export const SESSION_LABEL = 'cloudterm.io/session';
/** The namespace label that enables terminals there (docs/operator.md). */
export const NAMESPACE_ENABLED_LABEL = 'cloudterm.io/terminals';
export const NAMESPACE_ENABLED_VALUE = 'enabled';
/** Selects every object the operator made. */
export const MANAGED_SELECTOR = `${MANAGED_BY_LABEL}=${MANAGED_BY}`;

const PREFIX = 'cloudterm-';
/** DNS subdomain names (pods, ServiceAccounts, RoleBindings) are at most 253 characters. */
const MAX_NAME = 253;
const MAX_LABEL_VALUE = 63;

const shortHash = (text: string): string => createHash('sha256').update(text).digest('hex').slice(0, 10);

/** `text`, or when longer than `max`, its start and a hash of the whole (still unique, still valid). */
function fit(text: string, max: number): string {
  if (text.length <= max) return text;
  return `${text.slice(0, max - 11).replace(/[-.]+$/, '')}-${shortHash(text)}`;
}

export interface ChildNames {
  readonly pod: string;
  readonly serviceAccount: string;
  readonly roleBinding: string;
}

export function childNames(session: Pick<TerminalSession, 'metadata'>): ChildNames {
  const name = fit(`${PREFIX}${session.metadata.name ?? ''}`, MAX_NAME);
  return { pod: name, serviceAccount: name, roleBinding: name };
}

/** A label value naming the session (names longer than a label value allows are hashed). */
export function sessionLabelValue(name: string): string {
  return fit(name, MAX_LABEL_VALUE);
}

export function childLabels(session: Pick<TerminalSession, 'metadata'>, component: string): Record<string, string> {
  return {
    [MANAGED_BY_LABEL]: MANAGED_BY,
    [COMPONENT_LABEL]: component,
    [SESSION_LABEL]: sessionLabelValue(session.metadata.name ?? ''),
  };
}

/** The owner reference every child carries: the garbage collector deletes it with the session. */
export function ownerReference(session: Pick<TerminalSession, 'metadata'>): NonNullable<ObjectMeta['ownerReferences']>[number] {
  return {
    apiVersion: API_VERSION,
    kind: KIND,
    name: session.metadata.name ?? '',
    uid: session.metadata.uid ?? '',
    controller: true,
    blockOwnerDeletion: true,
  };
}

export function childMeta(session: Pick<TerminalSession, 'metadata'>, name: string, component: string): ObjectMeta {
  return {
    name,
    namespace: session.metadata.namespace,
    labels: childLabels(session, component),
    ownerReferences: [ownerReference(session)],
  };
}

/** The `namespace/name` of the session that controls `object`, or null when no session does. */
export function controllingSession(object: { metadata?: ObjectMeta }): string | null {
  const owner = object.metadata?.ownerReferences?.find((ref) => ref.controller && ref.kind === KIND && ref.apiVersion === API_VERSION);
  return owner ? `${object.metadata?.namespace ?? ''}/${owner.name}` : null;
}
