// A configuration error as a process prints it, and as the gateway reads it back from a local
// agent's log to tell the user why their terminal could not start.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError } from '../../core/src/config/options.js';

test('the problems printed by a ConfigError are read back from a log, the last error only', () => {
  const older = new ConfigError(['an older problem']);
  const error = new ConfigError(['the program /gone: no such file', '--cwd /nowhere: no such directory']);
  const log = `{"level":30,"msg":"started"}\ncloudterm: ${older.message}\ncloudterm: ${error.message}\nsomething after\n`;
  assert.deepEqual(ConfigError.problemsPrintedIn(log), error.problems);
  assert.deepEqual(ConfigError.problemsPrintedIn(`cloudterm: ${error.message}`), error.problems, 'at the very end of the log');
  assert.deepEqual(ConfigError.problemsPrintedIn('Segmentation fault\n'), []);
});
