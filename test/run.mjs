#!/usr/bin/env node
// Runs every *.test.ts under test/ (or under the folders given) with node:test.
// Why a script: on Node 20 a quoted glob fails and a bare `--test` finds no .ts files, runs
// nothing and exits 0. Here the files are listed explicitly, and a run that executed no test
// fails.
import { spawn } from 'node:child_process';
import { readdirSync, statSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
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

const tapDir = mkdtempSync(join(tmpdir(), 'cloudterm-test-'));
const tapFile = join(tapDir, 'results.tap');
const child = spawn(
  process.execPath,
  [
    '--import', 'tsx',
    '--test',
    '--test-concurrency=2',
    '--test-reporter=spec', '--test-reporter-destination=stdout',
    '--test-reporter=tap', `--test-reporter-destination=${tapFile}`,
    ...files,
  ],
  { stdio: 'inherit' },
);

child.on('exit', (code, signal) => {
  const tap = readFileSync(tapFile, 'utf8');
  rmSync(tapDir, { recursive: true, force: true });
  const count = (name) => Number(tap.match(new RegExp(`^# ${name} (\\d+)$`, 'm'))?.[1] ?? 0);
  const [tests, pass, fail, skipped, todo] = ['tests', 'pass', 'fail', 'skipped', 'todo'].map(count);
  console.log(`\n${pass} passed, ${fail} failed, ${skipped + todo} skipped`);
  if (tests === 0 || pass === 0) {
    console.error('test/run.mjs: no test was executed; failing the run');
    process.exit(1);
  }
  if (skipped + todo > 0) {
    console.error('test/run.mjs: skipped or todo tests prove nothing; failing the run');
    process.exit(1);
  }
  process.exit(signal ? 1 : code ?? 1);
});
