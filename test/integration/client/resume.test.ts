// The gateway killed (SIGKILL, no goodbye) while `cloudterm attach` shows a program's output, then
// started again: the client reconnects by itself, says so on one line, and the output on the
// outer terminal is byte-exact — nothing lost, nothing doubled.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PASSWORDS, writeUsersFile } from '../../helpers/gateway-fixture.js';
import { freePort, startGatewayProcess, stopAllAgents, type GatewayProcess } from '../../helpers/gateway-process.js';
import { makeClientHome, type ClientHome } from '../../helpers/client-terminal.js';

let dataDir = '';
let gateway: GatewayProcess | null = null;
let home: ClientHome | null = null;
after(async () => {
  gateway?.child.kill('SIGKILL');
  await home?.remove();
  if (dataDir) {
    stopAllAgents(dataDir);
    await rm(dataDir, { recursive: true, force: true });
  }
});

/** The client's one-line notice of a drop and its resumption, as the outer terminal shows it. */
const RECONNECT_NOTICE = /\r\n\[cloudterm\] connection lost \([^)\r\n]*\); reconnecting \(Ctrl-\] d detaches\)… resumed\r\n/g;

test('kill the gateway mid-output and start it again: the client resumes by itself, byte-exact', async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'cloudterm-client-resume-'));
  const usersFile = await writeUsersFile(dataDir);
  const port = await freePort();
  gateway = await startGatewayProcess({ port, dataDir, usersFile });
  home = await makeClientHome();
  assert.equal((await home.run(['login', gateway.url, '--user', 'alice'], `${PASSWORDS.alice}\n`)).code, 0);
  assert.equal((await home.run(['new', '--name', 'long'])).code, 0);

  const terminal = home.terminal(['attach', 'long']);
  await terminal.waitFor(/[$#] $/, { timeoutMs: 20_000 });
  const count = 1_000_000;
  terminal.type(`seq 1 ${count}; echo "done: $((6 * 7))"\r`);
  await terminal.waitFor('\r\n50000\r\n');
  gateway.child.kill('SIGKILL');
  await new Promise((resolve) => gateway!.child.once('exit', resolve));
  // The client notices, and keeps trying while no gateway listens.
  await terminal.waitFor('[cloudterm] connection lost');
  await new Promise((r) => setTimeout(r, 500));
  gateway = await startGatewayProcess({ port, dataDir, usersFile });
  await terminal.waitFor('done: 42\r\n', { timeoutMs: 60_000 });

  const notices = terminal.screen.match(RECONNECT_NOTICE) ?? [];
  assert.equal(notices.length, 1, `one notice of the drop: ${JSON.stringify(terminal.screen.match(/\[cloudterm\][^\n]*/g))}`);
  const noticeAt = terminal.screen.search(RECONNECT_NOTICE);
  const shown = terminal.screen.replace(RECONNECT_NOTICE, '');
  const expected = execFileSync('seq', ['1', String(count)], { maxBuffer: 64 << 20 }).toString().replace(/\n/g, '\r\n');
  const start = shown.indexOf('\r\n1\r\n2\r\n3\r\n') + 2;
  assert.ok(noticeAt > start && noticeAt < start + expected.length, 'the gateway was killed while the output ran');
  assert.equal(shown.slice(start, start + expected.length) === expected, true, 'nothing lost, nothing doubled');
  assert.doesNotMatch(shown, /missing here/, 'no gap: the agent held every byte');

  terminal.type('exit 7\r');
  const finished = await terminal.finished(30_000);
  assert.equal(finished.status, 7);
  assert.equal(finished.sttyAfter, finished.sttyBefore);
  await gateway.stop();
});
