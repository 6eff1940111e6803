// The one place the Kubernetes rig reads the environment: where its binaries come from, where it
// caches them, and how a test run shares one control plane between its test files.
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export interface RigConfig {
  /** CLOUDTERM_K3S: a k3s binary to use as it is. */
  readonly k3sOverride: string | undefined;
  readonly path: string;
  /** `${XDG_CACHE_HOME:-~/.cache}/cloudterm`: unpacked binaries, outside the repo. */
  readonly cacheDir: string;
  /** The project's shared folder (`../shared` from the repository root), where k3s.xz lives. */
  readonly sharedKubeDir: string;
  /**
   * Set by test/run.mjs: the folder in which the first test file that needs the shared control
   * plane starts it (under a lock) and the others find it. Unset when a file is run directly.
   */
  readonly sharedRunDir: string | undefined;
  /** The PID of test/run.mjs, which stops the shared control plane at the end of the run. */
  readonly runnerPid: number | undefined;
}

export const REPO_ROOT = resolve(fileURLToPath(new URL('../..', import.meta.url)));

function loadRigConfig(env: Readonly<Record<string, string | undefined>>): RigConfig {
  const cacheRoot = env.XDG_CACHE_HOME || join(env.HOME || homedir(), '.cache');
  const runnerPid = Number(env.CLOUDTERM_TEST_RUNNER_PID);
  return {
    k3sOverride: env.CLOUDTERM_K3S || undefined,
    path: env.PATH ?? '/usr/local/bin:/usr/bin:/bin',
    cacheDir: join(cacheRoot, 'cloudterm'),
    sharedKubeDir: env.CLOUDTERM_SHARED_KUBE_DIR || resolve(REPO_ROOT, '..', 'shared', 'kube'),
    sharedRunDir: env.CLOUDTERM_KUBE_RUN_DIR || undefined,
    runnerPid: Number.isInteger(runnerPid) && runnerPid > 0 ? runnerPid : undefined,
  };
}

export const rigConfig: RigConfig = loadRigConfig(process.env);
