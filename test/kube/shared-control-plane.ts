// One control plane per `npm test` run, shared by its test files. node:test runs every file in a
// process of its own, so the sharing goes through a folder test/run.mjs names
// (CLOUDTERM_KUBE_RUN_DIR): the first file that asks takes a lock (an atomic mkdir), starts the
// server so that it outlives that file, and writes where it is; the others wait for that. The
// runner stops it when the run ends (and a guardian process does if the runner dies). A file run
// on its own (no runner) starts its own server and stops it when it exits.
import { mkdirSync, readFileSync, writeFileSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import { ControlPlane, startControlPlane, type ControlPlaneState } from './control-plane.js';
import { rigConfig } from './rig-config.js';

const WAIT_TIMEOUT_MS = 150_000;
const STATE = 'control-plane.json';
const ERROR = 'control-plane.error';

let shared: Promise<ControlPlane> | undefined;

/** The run's control plane (cluster admin). Never stop it: make namespaces and clean them up. */
export function sharedControlPlane(): Promise<ControlPlane> {
  shared ??= rigConfig.sharedRunDir ? joinRun(rigConfig.sharedRunDir) : startControlPlane();
  return shared;
}

async function joinRun(runDir: string): Promise<ControlPlane> {
  mkdirSync(runDir, { recursive: true });
  let winner = false;
  try {
    mkdirSync(join(runDir, 'lock'));
    winner = true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
  }
  if (winner) {
    try {
      const plane = await startControlPlane({ ownerPid: rigConfig.runnerPid ?? process.pid, outliveProcess: true });
      publish(runDir, STATE, JSON.stringify(plane.state()));
      return plane;
    } catch (error) {
      publish(runDir, ERROR, error instanceof Error ? error.message : String(error));
      throw error;
    }
  }
  const deadline = Date.now() + WAIT_TIMEOUT_MS;
  for (;;) {
    const state = readIfThere(join(runDir, STATE));
    if (state) return ControlPlane.attach(JSON.parse(state) as ControlPlaneState);
    const failure = readIfThere(join(runDir, ERROR));
    if (failure) throw new Error(`the shared control plane did not start: ${failure}`);
    if (Date.now() > deadline) throw new Error(`the shared control plane was not ready within ${WAIT_TIMEOUT_MS / 1000} s (${runDir})`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

/** Written under a temporary name and renamed, so that a reader never sees half of it. */
function publish(dir: string, name: string, text: string): void {
  writeFileSync(join(dir, `${name}.tmp`), text);
  renameSync(join(dir, `${name}.tmp`), join(dir, name));
}

function readIfThere(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
}
