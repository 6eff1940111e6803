#!/usr/bin/env node
// Runs every *.test.ts under test/ (or under the folders given) with node:test.
// Why a script: on Node 20 a quoted glob fails and a bare `--test` finds no .ts files, runs
// nothing and exits 0. Here the files are listed explicitly, and a run that executed no test
// fails. A test that hangs fails after TEST_TIMEOUT_MS, and a run that hangs anyway (in a hook,
// say) is stopped after RUN_TIMEOUT_MS: CI gets a failure to read, not a stalled job.
import { spawn } from 'node:child_process';
import { readdirSync, statSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { stopSharedControlPlane } from './kube/stop-shared.mjs';
import { join, relative } from 'node:path';
import { tmpdir } from 'node:os';

const roots = process.argv.slice(2).length > 0 ? process.argv.slice(2) : ['test'];

function collect(path) {
  if (statSync(path).isFile()) return path.endsWith('.test.ts') ? [path] : [];
  return readdirSync(path, { withFileTypes: true })
    .filter((entry) => entry.name !== 'node_modules')
    .flatMap((entry) => collect(join(path, entry.name)));
}

const files = roots.flatMap(collect).map((file) => relative(process.cwd(), file)).sort();
if (files.length === 0) {
  console.error(`test/run.mjs: no *.test.ts files under ${roots.join(', ')}`);
  process.exit(1);
}

/**
 * Each test, and each test file as a whole (node:test runs a file as one test in a process of
 * its own), fails after this. A hang detector, not a speed bar: the longest files (the browser
 * end to end, the operator's reconcile) take 60–110 s on a quiet 2-core machine and up to ~170 s
 * on a loaded one.
 */
const TEST_TIMEOUT_MS = 300_000;
/** A whole run takes 6–10 minutes on 2 cores (the Kubernetes tests are most of it). */
const RUN_TIMEOUT_MS = 20 * 60_000;

const tapDir = mkdtempSync(join(tmpdir(), 'cloudterm-test-'));
const tapFile = join(tapDir, 'results.tap');
// The folder through which test files share one Kubernetes control plane (test/kube/): started
// by the first file that needs it, stopped here when the run ends.
const kubeRunDir = mkdtempSync(join(tmpdir(), 'cloudterm-kube-run-'));
const child = spawn(
  process.execPath,
  [
    '--import', 'tsx',
    '--test',
    '--test-concurrency=2',
    `--test-timeout=${TEST_TIMEOUT_MS}`,
    '--test-reporter=spec', '--test-reporter-destination=stdout',
    '--test-reporter=tap', `--test-reporter-destination=${tapFile}`,
    ...files,
  ],
  {
    stdio: 'inherit',
    detached: true,
    env: { ...process.env, CLOUDTERM_KUBE_RUN_DIR: kubeRunDir, CLOUDTERM_TEST_RUNNER_PID: String(process.pid) },
  },
);

let timedOut = false;
const watchdog = setTimeout(() => {
  timedOut = true;
  console.error(`test/run.mjs: the run took longer than ${RUN_TIMEOUT_MS / 60_000} minutes; stopping it`);
  // The runner and every process its tests started (servers, shells, browsers) are one group.
  try {
    process.kill(-child.pid, 'SIGKILL');
  } catch {
    child.kill('SIGKILL');
  }
}, RUN_TIMEOUT_MS);

// The runner has its own process group (so that the watchdog can stop everything in it): pass
// on what would have reached it from the terminal or from CI.
for (const name of ['SIGINT', 'SIGTERM']) {
  process.on(name, () => {
    try {
      process.kill(-child.pid, name);
    } catch {
      // already gone
    }
  });
}

child.on('exit', async (code, signal) => {
  clearTimeout(watchdog);
  await stopSharedControlPlane(kubeRunDir);
  let tap = '';
  try {
    tap = readFileSync(tapFile, 'utf8');
  } catch {
    // the runner died before writing anything: counted as no test run
  }
  rmSync(tapDir, { recursive: true, force: true });
  const count = (name) => Number(tap.match(new RegExp(`^# ${name} (\\d+)$`, 'm'))?.[1] ?? 0);
  const [tests, pass, fail, skipped, todo] = ['tests', 'pass', 'fail', 'skipped', 'todo'].map(count);
  console.log(`\n${pass} passed, ${fail} failed, ${skipped + todo} skipped`);
  if (fail === 0 && code !== 0) console.error('test/run.mjs: a test file failed as a whole (timed out or crashed): see above');
  if (tests === 0 || pass === 0) {
    console.error('test/run.mjs: no test was executed; failing the run');
    process.exit(1);
  }
  if (skipped + todo > 0) {
    console.error('test/run.mjs: skipped or todo tests prove nothing; failing the run');
    process.exit(1);
  }
  process.exit(timedOut || signal ? 1 : code ?? 1);
});
