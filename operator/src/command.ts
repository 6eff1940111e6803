// `cloudterm operator`: configuration → the Kubernetes client → the operator and its health
// listener; SIGTERM stops it gracefully (running reconciles finish, the Lease is released).
import { KubeConfig } from '@kubernetes/client-node';
import { ConfigError, createLogger, importPublicKey, readConfigFile, type CommandIo, type Environment } from '../../core/src/index.js';
import { OPERATOR_USAGE, loadOperatorConfig, type OperatorConfig } from './config.js';
import { KubeClient } from './kube/client.js';
import { startOperator, type OperatorSettings } from './controller/operator.js';
import { startHealthServer } from './controller/health-server.js';
import { systemClock } from './controller/clock.js';

export function operatorSettings(config: OperatorConfig, publicKeyPem: string): OperatorSettings {
  return {
    reconciler: {
      publicKeyPem,
      shellApiServer: config.shellApiServer,
      grantableRoles: config.grantableRoles,
      activityPollMs: config.activityPollMs,
      missingRoleRetryMs: 30_000,
      agentPort: config.agentPort,
      runAsUser: config.runAsUser,
      runAsGroup: config.runAsGroup,
      tokenExpirationSeconds: config.tokenExpirationSeconds,
      nodeSelector: config.nodeSelector,
      tolerateTaints: config.tolerateTaints,
      namespaceSelector: config.namespaceSelector,
    },
    lease: {
      namespace: config.lease.namespace,
      name: config.lease.name,
      identity: config.lease.identity,
      leaseDurationMs: config.lease.durationMs,
      renewDeadlineMs: Math.round(config.lease.durationMs * (2 / 3)),
      retryPeriodMs: Math.max(500, Math.round(config.lease.durationMs / 7)),
    },
    concurrency: config.concurrency,
    resyncMs: config.resyncMs,
    watchTimeoutSeconds: config.watchTimeoutSeconds,
    agentTimeoutMs: 2_000,
  };
}

export async function runOperatorCommand(argv: readonly string[], env: Environment, io: CommandIo): Promise<number> {
  if (argv.includes('--help')) {
    io.stdout.write(`${OPERATOR_USAGE}\n`);
    return 0;
  }
  const config = loadOperatorConfig(argv, env);
  const publicKeyPem = await readConfigFile('attach-public-key-file', config.attachPublicKeyFile);
  await importPublicKey(publicKeyPem).catch((error: Error) => {
    throw new ConfigError([`--attach-public-key-file ${config.attachPublicKeyFile}: ${error.message}`]);
  });
  const kubeConfig = new KubeConfig();
  try {
    if (config.kubeconfig) kubeConfig.loadFromFile(config.kubeconfig);
    else kubeConfig.loadFromCluster();
  } catch (error) {
    throw new ConfigError([`--kubeconfig ${config.kubeconfig ?? '(in-cluster)'}: ${(error as Error).message}`]);
  }
  const log = createLogger({ name: 'cloudterm-operator', level: config.logLevel, base: { identity: config.lease.identity } }, io.stdout);
  const operator = startOperator(new KubeClient(kubeConfig), operatorSettings(config, publicKeyPem), systemClock, log);
  const health = await startHealthServer(config.listen, {
    healthy: () => true,
    ready: operator.ready,
    metrics: () => operator.metrics.registry.render(),
  });
  log.info({ listen: health.address, lease: `${config.lease.namespace}/${config.lease.name}` }, 'Operator started');
  io.stop.addEventListener('abort', () => {
    log.info({ signal: io.stop.reason }, 'Stopping: finishing reconciles, releasing the Lease');
    void operator.stop();
  });
  const how = await operator.done;
  await health.close();
  log.info({ how }, 'Operator stopped');
  // Losing the Lease is not a clean stop: exit non-zero so that the pod is restarted afresh.
  return how === 'lost-lease' ? 1 : 0;
}
