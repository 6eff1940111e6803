// Local-mode agents run the gateway's program with its code-loading flags, never its V8 tuning.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { codeLoadingFlags } from '../../cli/src/node-flags.js';

test('loaders and conditions pass on, in both spellings; V8 tuning does not', () => {
  assert.deepEqual(
    codeLoadingFlags(['--lite-mode', '--import', 'tsx', '--max-semi-space-size=1', '--conditions=dev', '--enable-source-maps', '--optimize-for-size']),
    ['--import', 'tsx', '--conditions=dev', '--enable-source-maps'],
  );
  assert.deepEqual(codeLoadingFlags(['-r', './hook.cjs', '--import=tsx', '--cpu-prof']), ['-r', './hook.cjs', '--import=tsx']);
  assert.deepEqual(codeLoadingFlags([]), []);
  // A value-taking flag at the very end has no value to carry: kept as given, nothing invented.
  assert.deepEqual(codeLoadingFlags(['--no-opt', '--import']), ['--import']);
});
