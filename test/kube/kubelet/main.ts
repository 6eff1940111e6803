// The rig kubelet as a process:
//   node --import tsx test/kube/kubelet/main.ts --kubeconfig FILE [--node-name NAME]
//        [--state-dir DIR] [--light] [--max-pods N] [--taint]
// It joins any cluster its kubeconfig reaches (it needs rights to register a Node, watch pods,
// write pod status, read Secrets and ConfigMaps, and create ServiceAccount tokens). SIGTERM or
// SIGINT stops it and the pods' processes; SIGKILL leaves them for the next start to adopt.
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import pino from 'pino';
import { KubeConfig } from '@kubernetes/client-node';
import { FakeKubelet, KubeletError } from './kubelet.js';
import { withKeepAlive } from './keep-alive.js';
import { rigConfig } from '../rig-config.js';

const USAGE = `usage: kubelet --kubeconfig FILE [--node-name NAME] [--state-dir DIR] [--light] [--max-pods N] [--taint]
  --kubeconfig  the cluster to join (default: $KUBECONFIG)
  --node-name   the Node to register (default rig-node)
  --state-dir   pod folders and records (default: ~/.cache/cloudterm/kubelet-<node>)
  --light       run no processes: pods go Running with an address (benchmarks)
  --max-pods    the Node's pod capacity (default 110)
  --taint       taint the Node cloudterm.io/rig-node=<name>:NoSchedule, so that only pods pinned
                to it (spec.nodeName) or tolerating it land there`;

async function main(): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({
      options: {
        kubeconfig: { type: 'string' },
        'node-name': { type: 'string', default: 'rig-node' },
        'state-dir': { type: 'string' },
        light: { type: 'boolean', default: false },
        'max-pods': { type: 'string', default: '110' },
        taint: { type: 'boolean', default: false },
        help: { type: 'boolean', default: false },
      },
    }));
  } catch (error) {
    process.stderr.write(`${(error as Error).message}\n${USAGE}\n`);
    return 2;
  }
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  const kubeconfig = values.kubeconfig ?? rigConfig.kubeconfig;
  const maxPods = Number(values['max-pods']);
  const problems = [
    ...(kubeconfig ? [] : ['--kubeconfig (or KUBECONFIG) is required']),
    ...(Number.isInteger(maxPods) && maxPods > 0 ? [] : [`--max-pods must be a positive integer, not ${values['max-pods']}`]),
    ...(/^[a-z0-9]([-a-z0-9.]{0,61}[a-z0-9])?$/.test(values['node-name']!) ? [] : [`--node-name ${values['node-name']}: not a valid node name`]),
  ];
  if (problems.length > 0) {
    process.stderr.write(`${problems.join('\n')}\n${USAGE}\n`);
    return 2;
  }
  const nodeName = values['node-name']!;
  const config = new KubeConfig();
  config.loadFromFile(kubeconfig!);
  withKeepAlive(config);
  const logger = pino({ name: 'rig-kubelet', base: { node: nodeName } });
  const log = {
    info: (message: string, fields: Record<string, unknown> = {}) => logger.info(fields, message),
    warn: (message: string, fields: Record<string, unknown> = {}) => logger.warn(fields, message),
  };
  let kubelet: FakeKubelet;
  try {
    kubelet = await FakeKubelet.start({
      kubeConfig: config,
      nodeName,
      stateDir: values['state-dir'] ?? join(rigConfig.cacheDir, `kubelet-${nodeName}`),
      light: values.light,
      maxPods,
      taint: values.taint,
      execPath: process.execPath,
      log,
    });
  } catch (error) {
    if (error instanceof KubeletError) {
      process.stderr.write(`kubelet: ${error.message}\n`);
      return 1;
    }
    throw error;
  }
  log.info('Kubelet ready', { light: values.light });
  await new Promise<void>((resolve) => {
    for (const signal of ['SIGTERM', 'SIGINT'] as const) process.once(signal, () => resolve());
  });
  log.info('Stopping: ending the pods\' processes');
  await kubelet.stop();
  return 0;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`kubelet: ${(error as Error).stack ?? String(error)}\n`);
    process.exit(1);
  },
);
