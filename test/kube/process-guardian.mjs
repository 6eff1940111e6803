// Stops a process group when its owner dies, whatever killed the owner (a crashed test, a
// SIGKILLed runner). Plain JavaScript so that it starts in milliseconds without tsx.
//   node process-guardian.mjs OWNER_PID TARGET_PID [DIR_TO_REMOVE]
// Exits on its own once the target is gone. The owner stops the target itself in the normal case;
// this is the net under it.
import { rmSync } from 'node:fs';

const [owner, target] = process.argv.slice(2, 4).map(Number);
const dir = process.argv[4];

function alive(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return error.code === 'EPERM';
  }
}

function signal(name) {
  try {
    process.kill(-target, name);
  } catch {
    // already gone
  }
}

const timer = setInterval(() => {
  // The owner first: when both are gone (the owner's exit hook already stopped the target), the
  // folder still has to go.
  if (alive(owner)) {
    if (!alive(target)) process.exit(0);
    return;
  }
  clearInterval(timer);
  signal('SIGTERM');
  const started = Date.now();
  const wait = setInterval(() => {
    if (alive(target) && Date.now() - started < 10_000) return;
    signal('SIGKILL');
    clearInterval(wait);
    if (dir) setTimeout(() => rmSync(dir, { recursive: true, force: true }), 300);
  }, 200);
}, 500);
