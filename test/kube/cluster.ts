// `npm run cluster`: a control plane and a rig kubelet for local work, until Ctrl+C.
//   npm run cluster [-- --light] [-- --data-dir DIR]
// --data-dir keeps the cluster's data between runs (default: a fresh one, removed at the end).
import { parseArgs } from 'node:util';
import { kubeTools } from './binaries.js';
import { startControlPlane } from './control-plane.js';
import { startKubelet } from './kubelet-process.js';

const { values } = parseArgs({ options: { light: { type: 'boolean', default: false }, 'data-dir': { type: 'string' } } });
const started = Date.now();
const plane = await startControlPlane(values['data-dir'] ? { dataDir: values['data-dir'] } : {});
const kubelet = await startKubelet(plane, { nodeName: 'rig-node', taint: false, light: values.light }).catch(async (error: unknown) => {
  await plane.stop();
  throw error;
});
const { kubectl } = await kubeTools();
process.stdout.write(
  [
    `CloudTerm rig cluster ready in ${((Date.now() - started) / 1000).toFixed(1)} s: k3s ${plane.server} (PID ${plane.pid}), kubelet node ${kubelet.nodeName} (PID ${kubelet.pid}${values.light ? ', light mode' : ''})`,
    '',
    `  KUBECONFIG=${plane.kubeconfigPath} ${kubectl} get pods -A`,
    '',
    `kubectl 1.31 is ${kubectl}; the audit log is ${plane.auditLogPath}; pod folders and logs are under ${kubelet.stateDir}/pods.`,
    'Ctrl+C stops the kubelet (and its pods) and the control plane.',
    '',
  ].join('\n'),
);
let stopping = false;
const stop = async () => {
  if (stopping) return;
  stopping = true;
  process.stdout.write('Stopping…\n');
  await kubelet.stop();
  await plane.stop();
  process.exit(0);
};
process.on('SIGINT', () => void stop());
process.on('SIGTERM', () => void stop());
// Every child is unref'd (so that tests can exit): this keeps the command alive until a signal.
setInterval(() => undefined, 1 << 30);
