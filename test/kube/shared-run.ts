// Sharing one thing (the control plane, the kubelet) between the test files of one run through
// the folder test/run.mjs names: the first file to ask takes a lock (an atomic mkdir), starts it
// so that it outlives that file, and publishes its state; the others wait for the state. The
// runner stops what was published when the run ends (test/kube/stop-shared.mjs).
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const WAIT_TIMEOUT_MS = 150_000;

export async function shareInRun<S>(runDir: string, name: string, start: () => Promise<S>): Promise<S> {
  mkdirSync(runDir, { recursive: true });
  let winner = false;
  try {
    mkdirSync(join(runDir, `${name}.lock`));
    winner = true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
  }
  if (winner) {
    try {
      const state = await start();
      publish(runDir, `${name}.json`, JSON.stringify(state));
      return state;
    } catch (error) {
      publish(runDir, `${name}.error`, error instanceof Error ? error.message : String(error));
      throw error;
    }
  }
  const deadline = Date.now() + WAIT_TIMEOUT_MS;
  for (;;) {
    const state = readIfThere(join(runDir, `${name}.json`));
    if (state) return JSON.parse(state) as S;
    const failure = readIfThere(join(runDir, `${name}.error`));
    if (failure) throw new Error(`the run's shared ${name} did not start: ${failure}`);
    if (Date.now() > deadline) throw new Error(`the run's shared ${name} was not ready within ${WAIT_TIMEOUT_MS / 1000} s (${runDir})`);
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
