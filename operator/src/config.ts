// Configuration of `cloudterm operator`, from flags and CLOUDTERM_OPERATOR_* environment variables,
// validated once with every problem reported together.
import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import { ConfigError, LOG_LEVELS, parseListenAddress, parseOptions, usage, type ListenAddress, type OptionSpec } from '../../core/src/index.js';
import { parseGrantableRoles, type GrantableRole } from './desired/access.js';

export const operatorOptionSpecs = {
  kubeconfig: { flag: 'kubeconfig', env: 'CLOUDTERM_OPERATOR_KUBECONFIG', kind: 'string', help: 'kubeconfig file (default: the in-cluster ServiceAccount)' },
  attachPublicKeyFile: { flag: 'attach-public-key-file', env: 'CLOUDTERM_OPERATOR_ATTACH_PUBLIC_KEY_FILE', kind: 'string', help: "PEM file of the gateway's public key, given to every terminal pod (required)" },
  listen: { flag: 'listen', env: 'CLOUDTERM_OPERATOR_LISTEN', kind: 'string', default: '0.0.0.0:8080', help: '/healthz, /readyz and /metrics' },
  grantableRoles: { flag: 'grantable-roles', env: 'CLOUDTERM_OPERATOR_GRANTABLE_ROLES', kind: 'string', default: 'ClusterRole/view', help: 'roles spec.access may ask for: ClusterRole/<name>,Role/<name> (empty: none)' },
  shellApiServer: { flag: 'shell-api-server', env: 'CLOUDTERM_OPERATOR_SHELL_API_SERVER', kind: 'string', default: 'https://kubernetes.default.svc', help: "API server URL in the shell's kubeconfig" },
  leaseNamespace: { flag: 'lease-namespace', env: 'CLOUDTERM_OPERATOR_LEASE_NAMESPACE', kind: 'string', help: "namespace of the leader election Lease (default: the pod's, POD_NAMESPACE, else cloudterm)" },
  leaseName: { flag: 'lease-name', env: 'CLOUDTERM_OPERATOR_LEASE_NAME', kind: 'string', default: 'cloudterm-operator', help: 'name of the Lease' },
  leaseDuration: { flag: 'lease-duration', env: 'CLOUDTERM_OPERATOR_LEASE_DURATION', kind: 'integer', min: 2, max: 600, default: 15, help: 'seconds a leader holds the Lease without renewing it' },
  identity: { flag: 'identity', env: 'CLOUDTERM_OPERATOR_IDENTITY', kind: 'string', help: 'this replica in the Lease (default: host name and a random suffix)' },
  concurrency: { flag: 'concurrency', env: 'CLOUDTERM_OPERATOR_CONCURRENCY', kind: 'integer', min: 1, max: 256, default: 8, help: 'reconciles at once' },
  resync: { flag: 'resync', env: 'CLOUDTERM_OPERATOR_RESYNC', kind: 'integer', min: 1, max: 86400, default: 300, help: 'seconds between full passes over every session' },
  activityPoll: { flag: 'activity-poll', env: 'CLOUDTERM_OPERATOR_ACTIVITY_POLL', kind: 'integer', min: 1, max: 3600, default: 15, help: "seconds between reads of a running agent's /status" },
  tokenExpiration: { flag: 'token-expiration', env: 'CLOUDTERM_OPERATOR_TOKEN_EXPIRATION', kind: 'integer', min: 600, max: 86400, default: 600, help: "seconds the shell's projected token lives before the kubelet renews it" },
  agentPort: { flag: 'agent-port', env: 'CLOUDTERM_OPERATOR_AGENT_PORT', kind: 'integer', min: 1, max: 65535, default: 7681, help: 'port the agent listens on in its pod' },
  runAsUser: { flag: 'run-as-user', env: 'CLOUDTERM_OPERATOR_RUN_AS_USER', kind: 'integer', min: 1, max: 2 ** 31 - 1, default: 1000, help: "the terminal image's non-root user id" },
  runAsGroup: { flag: 'run-as-group', env: 'CLOUDTERM_OPERATOR_RUN_AS_GROUP', kind: 'integer', min: 1, max: 2 ** 31 - 1, default: 1000, help: 'its group id' },
  watchTimeout: { flag: 'watch-timeout', env: 'CLOUDTERM_OPERATOR_WATCH_TIMEOUT', kind: 'integer', min: 5, max: 3600, default: 300, help: 'seconds each watch asks to last before it is renewed' },
  namespaceSelector: { flag: 'namespace-selector', env: 'CLOUDTERM_OPERATOR_NAMESPACE_SELECTOR', kind: 'string', default: '', help: 'serve only sessions in namespaces with these labels: key=value,… (empty: every namespace; several installations can share a cluster)' },
  nodeSelector: { flag: 'node-selector', env: 'CLOUDTERM_OPERATOR_NODE_SELECTOR', kind: 'string', default: '', help: 'labels the terminal pods\' nodes must have: key=value,… (empty: any node)' },
  tolerateTaint: { flag: 'tolerate-taint', env: 'CLOUDTERM_OPERATOR_TOLERATE_TAINT', kind: 'string', default: '', help: 'NoSchedule taints the terminal pods tolerate: key=value,… (dedicated terminal nodes)' },
  logLevel: { flag: 'log-level', env: 'CLOUDTERM_OPERATOR_LOG_LEVEL', kind: 'string', default: 'info', help: 'fatal, error, warn, info, debug' },
} as const satisfies Record<string, OptionSpec>;

export const OPERATOR_USAGE = usage('operator', operatorOptionSpecs);

export interface OperatorConfig {
  /** null: the in-cluster ServiceAccount. */
  readonly kubeconfig: string | null;
  readonly attachPublicKeyFile: string;
  readonly listen: ListenAddress;
  readonly grantableRoles: readonly GrantableRole[];
  readonly shellApiServer: string;
  readonly lease: { readonly namespace: string; readonly name: string; readonly durationMs: number; readonly identity: string };
  readonly concurrency: number;
  readonly resyncMs: number;
  readonly activityPollMs: number;
  readonly tokenExpirationSeconds: number;
  readonly agentPort: number;
  readonly runAsUser: number;
  readonly runAsGroup: number;
  readonly watchTimeoutSeconds: number;
  readonly logLevel: string;
  readonly nodeSelector: Readonly<Record<string, string>>;
  readonly namespaceSelector: Readonly<Record<string, string>>;
  readonly tolerateTaints: Readonly<Record<string, string>>;
}

export function loadOperatorConfig(argv: readonly string[], env: Readonly<Record<string, string | undefined>>): OperatorConfig {
  const problems: string[] = [];
  const { values, rest } = parseOptions(operatorOptionSpecs, argv, env, problems);
  if (rest.length > 0) problems.push(`unexpected arguments after --: ${rest.join(' ')}`);
  const listen = parseListenAddress(values.listen, '0.0.0.0');
  if (typeof listen === 'string') problems.push(`--listen: ${listen}`);
  const roles = parseGrantableRoles(values.grantableRoles);
  if (typeof roles === 'string') problems.push(`--grantable-roles: ${roles}`);
  if (!values.attachPublicKeyFile) problems.push("--attach-public-key-file (or CLOUDTERM_OPERATOR_ATTACH_PUBLIC_KEY_FILE) is required: the gateway's public key for the terminal pods");
  const inCluster = Boolean(env.KUBERNETES_SERVICE_HOST);
  if (!values.kubeconfig && !inCluster) problems.push('--kubeconfig (or CLOUDTERM_OPERATOR_KUBECONFIG) is required outside a cluster');
  const shellApiServer = values.shellApiServer;
  if (!(LOG_LEVELS as readonly string[]).includes(values.logLevel)) problems.push(`--log-level must be one of ${LOG_LEVELS.join(', ')}, got "${values.logLevel}"`);
  if (!/^https:\/\/[^/\s]+/.test(shellApiServer)) problems.push(`--shell-api-server must be an https:// URL, got "${shellApiServer}"`);
  const nodeSelector = parseLabels(values.nodeSelector);
  if (typeof nodeSelector === 'string') problems.push(`--node-selector: ${nodeSelector}`);
  const tolerations = parseLabels(values.tolerateTaint);
  if (typeof tolerations === 'string') problems.push(`--tolerate-taint: ${tolerations}`);
  const namespaceSelector = parseLabels(values.namespaceSelector);
  if (typeof namespaceSelector === 'string') problems.push(`--namespace-selector: ${namespaceSelector}`);
  if (problems.length > 0) throw new ConfigError(problems);
  return {
    nodeSelector: nodeSelector as Record<string, string>,
    namespaceSelector: namespaceSelector as Record<string, string>,
    tolerateTaints: tolerations as Record<string, string>,
    kubeconfig: values.kubeconfig ?? null,
    attachPublicKeyFile: values.attachPublicKeyFile!,
    listen: listen as ListenAddress,
    grantableRoles: roles as GrantableRole[],
    shellApiServer,
    lease: {
      namespace: values.leaseNamespace ?? env.POD_NAMESPACE ?? 'cloudterm',
      name: values.leaseName,
      durationMs: values.leaseDuration * 1000,
      identity: values.identity ?? `${hostname()}-${randomBytes(4).toString('hex')}`,
    },
    concurrency: values.concurrency,
    resyncMs: values.resync * 1000,
    activityPollMs: values.activityPoll * 1000,
    tokenExpirationSeconds: values.tokenExpiration,
    agentPort: values.agentPort,
    runAsUser: values.runAsUser,
    runAsGroup: values.runAsGroup,
    watchTimeoutSeconds: values.watchTimeout,
    logLevel: values.logLevel,
  };
}

/** `disktype=ssd,pool=terminals` → the map; a bad entry is an error message. */
export function parseLabels(text: string): Record<string, string> | string {
  const selector: Record<string, string> = {};
  for (const entry of text.split(',').map((e) => e.trim()).filter(Boolean)) {
    const match = /^([A-Za-z0-9./_-]+)=([A-Za-z0-9._-]*)$/.exec(entry);
    if (!match) return `"${entry}" is not key=value`;
    selector[match[1]!] = match[2]!;
  }
  return selector;
}
