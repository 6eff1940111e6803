// The TerminalSession resource, cloudterm.io/v1alpha1: its TypeScript shape, kept in one place the
// way kubebuilder projects keep api/v1alpha1/. crds/terminalsession.yaml is the source of truth for
// what the API server accepts; test/unit/api/types-match-schema.test.ts fails when this file and
// the CRD's schema disagree on a field, its type or whether it is always present.

export const GROUP = 'cloudterm.io';
export const VERSION = 'v1alpha1';
export const API_VERSION = `${GROUP}/${VERSION}` as const;
export const KIND = 'TerminalSession';
export const LIST_KIND = 'TerminalSessionList';
export const PLURAL = 'terminalsessions';
export const SINGULAR = 'terminalsession';
export const SHORT_NAME = 'ts';
export const CATEGORY = 'cloudterm';
/** The CRD's metadata.name. */
export const CRD_NAME = `${PLURAL}.${GROUP}`;

export const PHASES = ['Pending', 'Running', 'Succeeded', 'Failed', 'Expired'] as const;
export type Phase = (typeof PHASES)[number];
/** Phases a session never leaves: its pod is gone (or going) and is not recreated. */
export const TERMINAL_PHASES: readonly Phase[] = ['Succeeded', 'Failed', 'Expired'];

export const VIEWER_ROLES = ['rw', 'ro'] as const;
export type ViewerRole = (typeof VIEWER_ROLES)[number];

export const ROLE_KINDS = ['Role', 'ClusterRole'] as const;
export type RoleKind = (typeof ROLE_KINDS)[number];

export const CONDITION_READY = 'Ready';

/**
 * The reasons of the Ready condition. True: Running. False while starting: Pending. False for
 * good (the session has ended or cannot start; the operator does not retry in a hot loop): the rest.
 */
export const READY_REASONS = {
  /** The agent answers its status endpoint; the session can be attached. */
  Running: 'Running',
  /** The pod is being created, scheduled or started. */
  Pending: 'Pending',
  /** The spec breaks a rule of the CRD that this API server did not enforce (before 1.25). */
  Invalid: 'Invalid',
  /** spec.access names a Role or ClusterRole that does not exist. */
  RoleNotFound: 'RoleNotFound',
  /** spec.access names a role the installation does not list as grantable. */
  RoleNotGrantable: 'RoleNotGrantable',
  /** The namespace is not enabled for terminals. */
  NamespaceNotEnabled: 'NamespaceNotEnabled',
  /** The image cannot be pulled. */
  ImagePullFailed: 'ImagePullFailed',
  /** The shell exited with status 0 (phase Succeeded). */
  Exited: 'Exited',
  /** The container failed (phase Failed); status.message has its reason and exit code. */
  PodFailed: 'PodFailed',
  /** The pod disappeared (deleted or evicted) while the session ran (phase Failed). */
  PodLost: 'PodLost',
  /** No input or output for spec.idleTimeout (phase Expired). */
  IdleTimeout: 'IdleTimeout',
  /** spec.maxLifetime passed since the session started (phase Expired). */
  MaxLifetime: 'MaxLifetime',
} as const;
export type ReadyReason = (typeof READY_REASONS)[keyof typeof READY_REASONS];

export type ConditionStatus = 'True' | 'False' | 'Unknown';

/** metav1.Condition, as Kubernetes' own types carry it. */
export interface Condition {
  type: string;
  status: ConditionStatus;
  /** The metadata.generation this condition was computed from. */
  observedGeneration?: number;
  /** RFC 3339 time of the last change of status. */
  lastTransitionTime: string;
  /** CamelCase, machine-readable (READY_REASONS for Ready). */
  reason: string;
  /** For humans. */
  message: string;
}

/** A literal environment variable of the shell (no valueFrom: see docs/decisions.md). */
export interface EnvVar {
  name: string;
  value?: string;
}

/** A Kubernetes quantity: `500m`, `1`, `64Mi`. */
export type Quantity = string | number;

export interface ResourceList {
  cpu?: Quantity;
  memory?: Quantity;
  'ephemeral-storage'?: Quantity;
}

export interface ResourceRequirements {
  requests?: ResourceList;
  limits?: ResourceList;
}

export interface Viewer {
  /** A user name as the gateway's authentication knows it. */
  user: string;
  /** rw: may type; ro: may only watch. Default ro. */
  role: ViewerRole;
}

export interface TerminalSize {
  cols: number;
  rows: number;
}

export interface RoleRef {
  kind: RoleKind;
  name: string;
}

/** The cluster rights of the shell: a ServiceAccount bound by a RoleBinding in the session's namespace. */
export interface Access {
  role: RoleRef;
}

/** The spec as the API server stores it: defaulted fields are always present. */
export interface TerminalSessionSpec {
  /** The user the session belongs to. Immutable. */
  owner: string;
  /** The container image; it must carry the `cloudterm` entrypoint. Immutable. */
  image: string;
  /** The program the agent starts in the PTY (default: the image user's login shell). Immutable. */
  command?: string[];
  /** Its arguments. Immutable. */
  args?: string[];
  /** The shell's environment. Immutable. */
  env?: EnvVar[];
  /** The shell's working directory (absolute; default: its home). Immutable. */
  workingDir?: string;
  /** The pod's resources (defaults: DEFAULT_RESOURCES, applied by the operator). Immutable. */
  resources?: ResourceRequirements;
  /** A duration (`30m`, `1h30m`): the session ends after this long without input or output. */
  idleTimeout: string;
  /** A duration (`8h`): the session ends this long after it started, active or not. */
  maxLifetime: string;
  /** Who else may attach. */
  viewers?: Viewer[];
  /** Record the session as an asciicast that outlives the pod. Immutable. */
  record: boolean;
  /** The PTY's size before any client resizes it. Immutable. */
  size: TerminalSize;
  /** Cluster rights for the shell; none when absent. Immutable. */
  access?: Access;
  /** Keep the TerminalSession after it ended instead of deleting it after ttlAfterEnd. */
  keepAfterEnd: boolean;
  /** A duration: how long an ended TerminalSession stays for its status to be read (`0s`: at once). */
  ttlAfterEnd: string;
}

/** Fields the API server fills in when they are absent. */
export type DefaultedSpecField = 'image' | 'idleTimeout' | 'maxLifetime' | 'record' | 'size' | 'keepAfterEnd' | 'ttlAfterEnd';

/** A spec as a client writes it (what `kubectl apply` or the gateway sends). */
export type TerminalSessionSpecInput = Omit<TerminalSessionSpec, DefaultedSpecField | 'viewers' | 'size'> &
  Partial<Pick<TerminalSessionSpec, Exclude<DefaultedSpecField, 'size'>>> & {
    viewers?: Array<Omit<Viewer, 'role'> & { role?: ViewerRole }>;
    size?: Partial<TerminalSize>;
  };

export interface TerminalSessionStatus {
  phase?: Phase;
  /** The pod running the agent. */
  podName?: string;
  /** The agent's base URL the gateway dials (`http://<pod IP>:<port>`). */
  endpoint?: string;
  /** When the agent became ready (RFC 3339). */
  startedAt?: string;
  /** The last input or output the agent saw (RFC 3339). */
  lastActivityAt?: string;
  /** When the session will expire if nothing happens (RFC 3339): see expiryOf(). */
  expiresAt?: string;
  /** When the session ended (RFC 3339). */
  endedAt?: string;
  /** Clients attached now. */
  attached?: number;
  /** The shell's exit code, once it exited. */
  exitCode?: number;
  /** The ServiceAccount of the shell, when spec.access asked for rights. */
  serviceAccountName?: string;
  /** Where the recording is kept, when spec.record is set. */
  recording?: string;
  conditions?: Condition[];
  /** The metadata.generation the operator last acted on. */
  observedGeneration?: number;
  /** For humans: what is happening or why the session ended. */
  message?: string;
}

export interface ObjectMeta {
  name?: string;
  generateName?: string;
  namespace?: string;
  uid?: string;
  resourceVersion?: string;
  generation?: number;
  creationTimestamp?: string;
  deletionTimestamp?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  finalizers?: string[];
  ownerReferences?: Array<{
    apiVersion: string;
    kind: string;
    name: string;
    uid: string;
    controller?: boolean;
    blockOwnerDeletion?: boolean;
  }>;
}

export interface TerminalSession {
  apiVersion: typeof API_VERSION;
  kind: typeof KIND;
  metadata: ObjectMeta;
  spec: TerminalSessionSpec;
  status?: TerminalSessionStatus;
}

export interface TerminalSessionList {
  apiVersion: typeof API_VERSION;
  kind: typeof LIST_KIND;
  metadata: { resourceVersion?: string; continue?: string };
  items: TerminalSession[];
}
