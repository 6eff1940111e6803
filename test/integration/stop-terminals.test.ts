// `cloudterm local --stop-terminals` (issue 18): local terminals outlive the gateway by design;
// this ends every one of a data directory, and none of another's.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { SELF_COMMAND, runningAgents, startGatewayFixture, stopAllAgents } from '../helpers/gateway-fixture.js';

async function cloudterm(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const [command, ...prefix] = SELF_COMMAND;
  const child = spawn(command!, [...prefix, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { PATH: process.env.PATH, HOME: '/nonexistent' } });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk));
  const code = await new Promise<number>((resolve) => child.on('exit', (exitCode) => resolve(exitCode ?? -1)));
  return { code, stdout, stderr };
}

test('--stop-terminals ends every terminal of its data directory, after the gateway stopped or while it runs, and no other', async () => {
  const mine = await startGatewayFixture();
  const other = await startGatewayFixture();
  try {
    const alice = await mine.login('alice');
    for (let i = 0; i < 2; i++) assert.equal((await alice.request('POST', '/api/sessions', {})).status, 201);
    const bob = await other.login('bob');
    const kept = (await bob.request('POST', '/api/sessions', {})).body.id;
    // The gateway stops; its terminals, by design, do not.
    await mine.gateway.close();
    assert.equal(runningAgents(mine.dataDir).length, 2);

    const stopped = await cloudterm(['local', '--stop-terminals', '--data-dir', mine.dataDir]);
    assert.equal(stopped.code, 0, stopped.stderr);
    assert.equal(stopped.stdout.trim(), `Stopped 2 terminals of ${mine.dataDir}.`);
    assert.deepEqual(runningAgents(mine.dataDir), []);
    const again = await cloudterm(['local', '--stop-terminals', '--data-dir', mine.dataDir]);
    assert.equal(again.stdout.trim(), `No terminal of ${mine.dataDir} is running.`);

    // The other directory's terminal is untouched, and still echoes.
    assert.equal(runningAgents(other.dataDir).length, 1);
    const terminal = await bob.attach(kept);
    terminal.type('echo kept-$((6*7))\r');
    await terminal.waitForText('kept-42');
    // While its gateway runs: the attached terminal gets the exit status and closes 1000.
    const live = await cloudterm(['local', '--stop-terminals', '--data-dir', other.dataDir]);
    assert.equal(live.stdout.trim(), `Stopped 1 terminal of ${other.dataDir}.`);
    await terminal.waitForClose();
    assert.equal(terminal.closeCode, 1000);
    assert.ok(terminal.find('exit'), 'the exit status came first');
  } finally {
    await other.stop();
    await mine.stop();
    stopAllAgents(mine.dataDir);
  }
});

test('--stop-terminals belongs to local mode', async () => {
  const refused = await cloudterm(['gateway', '--stop-terminals', '--users-file', '/dev/null']);
  assert.equal(refused.code, 2);
  assert.match(refused.stderr, /--stop-terminals is for local mode/);
});
