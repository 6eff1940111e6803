// One control plane per `npm test` run, shared by its test files (see shared-run.ts). A file run
// on its own (no runner) starts its own server and stops it when it exits.
import { ControlPlane, startControlPlane, type ControlPlaneState } from './control-plane.js';
import { rigConfig } from './rig-config.js';
import { shareInRun } from './shared-run.js';

let shared: Promise<ControlPlane> | undefined;

/** The run's control plane (cluster admin). Never stop it: make namespaces and clean them up. */
export function sharedControlPlane(): Promise<ControlPlane> {
  const runDir = rigConfig.sharedRunDir;
  shared ??= runDir
    ? shareInRun<ControlPlaneState>(runDir, 'control-plane', async () => {
        const plane = await startControlPlane({ ownerPid: rigConfig.runnerPid ?? process.pid, outliveProcess: true });
        return plane.state();
      }).then((state) => ControlPlane.attach(state))
    : startControlPlane();
  return shared;
}
