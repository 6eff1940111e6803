// Configuration of `cloudterm operator`, from flags and CLOUDTERM_OPERATOR_* environment variables,
// validated once with every problem reported together.
import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import { ConfigError, parseOptions, usage, type OptionSpec } from '../../core/src/config/options.js';
import { parseListenAddress, type ListenAddress } from '../../core/src/net/listen-address.js';
import { parseGrantableRoles, type GrantableRole } from './desired/access.js';

export const operatorOptionSpecs = {
  kubeconfig: { flag: 'kubeconfig', env: 'CLOUDTERM_OPERATOR_KUBECONFIG', kind: 'string', help: 'kubeconfig file (default: the in-cluster ServiceAccount)' },
  attachPublicKeyFile: { flag: 'attach-public-key-file', env: 'CLOUDTERM_OPERATOR_ATTACH_PUBLIC_KEY_FILE', kind: 'string', help: "PEM file of the gateway's public key, given to every terminal pod (required)" },
  listen: { flag: 'listen', env: 'CLOUDTERM_OPERATOR_LISTEN', kind: 'string', help: '/healthz, /readyz and /metrics (default 0.0.0.0:8080)' },
  grantableRoles: { flag: 'grantable-roles', env: 'CLOUDTERM_OPERATOR_GRANTABLE_ROLES', kind: 'string', help: 'roles spec.access may ask for: ClusterRole/view,Role/name (default ClusterRole/view)' },
  shellApiServer: { flag: 'shell-api-server', env: 'CLOUDTERM_OPERATOR_SHELL_API_SERVER', kind: 'string', help: "API server URL in the shell's kubeconfig (default https://kubernetes.default.svc)" },
  leaseNamespace: { flag: 'lease-namespace', env: 'CLOUDTERM_OPERATOR_LEASE_NAMESPACE', kind: 'string', help: 'namespace of the leader election Lease (default: the pod\'s, else cloudterm)' },
  leaseName: { flag: 'lease-name', env: 'CLOUDTERM_OPERATOR_LEASE_NAME', kind: 'string', help: 'name of the Lease (default cloudterm-operator)' },
  leaseDuration: { flag: 'lease-duration', env: 'CLOUDTERM_OPERATOR_LEASE_DURATION', kind: 'integer', min: 2, max: 600, help: 'seconds a leader holds the Lease without renewing it (default 15)' },
  identity: { flag: 'identity', env: 'CLOUDTERM_OPERATOR_IDENTITY', kind: 'string', help: 'this replica in the Lease (default: host name and a random suffix)' },
  concurrency: { flag: 'concurrency', env: 'CLOUDTERM_OPERATOR_CONCURRENCY', kind: 'integer', min: 1, max: 256, help: 'reconciles at once (default 8)' },
  resync: { flag: 'resync', env: 'CLOUDTERM_OPERATOR_RESYNC', kind: 'integer', min: 1, max: 86400, help: 'seconds between full passes over every session (default 300)' },
  activityPoll: { flag: 'activity-poll', env: 'CLOUDTERM_OPERATOR_ACTIVITY_POLL', kind: 'integer', min: 1, max: 3600, help: "seconds between reads of a running agent's /status (default 15)" },
  tokenExpiration: { flag: 'token-expiration', env: 'CLOUDTERM_OPERATOR_TOKEN_EXPIRATION', kind: 'integer', min: 600, max: 86400, help: "seconds the shell's projected token lives before the kubelet renews it (default 600)" },
  agentPort: { flag: 'agent-port', env: 'CLOUDTERM_OPERATOR_AGENT_PORT', kind: 'integer', min: 1, max: 65535, help: 'port the agent listens on in its pod (default 7681)' },
  runAsUser: { flag: 'run-as-user', env: 'CLOUDTERM_OPERATOR_RUN_AS_USER', kind: 'integer', min: 1, max: 2 ** 31 - 1, help: "the terminal image's non-root user id (default 1000)" },
  runAsGroup: { flag: 'run-as-group', env: 'CLOUDTERM_OPERATOR_RUN_AS_GROUP', kind: 'integer', min: 1, max: 2 ** 31 - 1, help: "its group id (default 1000)" },
  watchTimeout: { flag: 'watch-timeout', env: 'CLOUDTERM_OPERATOR_WATCH_TIMEOUT', kind: 'integer', min: 5, max: 3600, help: 'seconds each watch asks to last before it is renewed (default 300)' },
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
}

export function loadOperatorConfig(argv: readonly string[], env: Readonly<Record<string, string | undefined>>): OperatorConfig {
  const problems: string[] = [];
  const { values, rest } = parseOptions(operatorOptionSpecs, argv, env, problems);
  if (rest.length > 0) problems.push(`unexpected arguments after --: ${rest.join(' ')}`);
  const listen = parseListenAddress(values.listen ?? '0.0.0.0:8080', '0.0.0.0');
  if (typeof listen === 'string') problems.push(`--listen: ${listen}`);
  const roles = parseGrantableRoles(values.grantableRoles ?? 'ClusterRole/view');
  if (typeof roles === 'string') problems.push(`--grantable-roles: ${roles}`);
  if (!values.attachPublicKeyFile) problems.push("--attach-public-key-file (or CLOUDTERM_OPERATOR_ATTACH_PUBLIC_KEY_FILE) is required: the gateway's public key for the terminal pods");
  const inCluster = Boolean(env.KUBERNETES_SERVICE_HOST);
  if (!values.kubeconfig && !inCluster) problems.push('--kubeconfig (or CLOUDTERM_OPERATOR_KUBECONFIG) is required outside a cluster');
  const shellApiServer = values.shellApiServer ?? 'https://kubernetes.default.svc';
  if (!/^https:\/\/[^/\s]+/.test(shellApiServer)) problems.push(`--shell-api-server must be an https:// URL, got "${shellApiServer}"`);
  if (problems.length > 0) throw new ConfigError(problems);
  return {
    kubeconfig: values.kubeconfig ?? null,
    attachPublicKeyFile: values.attachPublicKeyFile!,
    listen: listen as ListenAddress,
    grantableRoles: roles as GrantableRole[],
    shellApiServer,
    lease: {
      namespace: values.leaseNamespace ?? env.POD_NAMESPACE ?? 'cloudterm',
      name: values.leaseName ?? 'cloudterm-operator',
      durationMs: (values.leaseDuration ?? 15) * 1000,
      identity: values.identity ?? `${hostname()}-${randomBytes(4).toString('hex')}`,
    },
    concurrency: values.concurrency ?? 8,
    resyncMs: (values.resync ?? 300) * 1000,
    activityPollMs: (values.activityPoll ?? 15) * 1000,
    tokenExpirationSeconds: values.tokenExpiration ?? 600,
    agentPort: values.agentPort ?? 7681,
    runAsUser: values.runAsUser ?? 1000,
    runAsGroup: values.runAsGroup ?? 1000,
    watchTimeoutSeconds: values.watchTimeout ?? 300,
  };
}
