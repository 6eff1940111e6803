// Used by test/run.mjs (plain JavaScript, no tsx) at the end of a run: stops the control plane
// the run's test files shared, by the PID they recorded, and removes its folders.
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';

function alive(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return error.code === 'EPERM';
  }
}

async function waitGone(pid, ms) {
  const deadline = Date.now() + ms;
  while (alive(pid) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 100));
  return !alive(pid);
}

export async function stopSharedControlPlane(runDir) {
  let state;
  try {
    state = JSON.parse(readFileSync(join(runDir, 'control-plane.json'), 'utf8'));
  } catch {
    state = undefined; // no test file needed it (or it never started)
  }
  if (state) {
    try {
      process.kill(-state.pid, 'SIGTERM');
    } catch {
      // already gone
    }
    if (!(await waitGone(state.pid, 15_000))) {
      try {
        process.kill(-state.pid, 'SIGKILL');
      } catch {
        // already gone
      }
      await waitGone(state.pid, 5_000);
    }
    rmSync(state.dir, { recursive: true, force: true });
  }
  rmSync(runDir, { recursive: true, force: true });
}
