// Local mode across a gateway restart: the gateway process is stopped mid-output and started
// again on the same data directory; the terminal (a detached agent) keeps running, the browser
// side reconnects with its cookie and resumes from its offset — nothing lost, nothing doubled.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ApiClient, PASSWORDS, writeUsersFile } from '../../helpers/gateway-fixture.js';
import { freePort, startGatewayProcess, stopAllAgents, type GatewayProcess } from '../../helpers/gateway-process.js';
import { CloseCode } from '../../../core/src/protocol/close-codes.js';

let dataDir = '';
let gateway: GatewayProcess | null = null;
after(async () => {
  gateway?.child.kill('SIGKILL');
  if (dataDir) {
    stopAllAgents(dataDir);
    await rm(dataDir, { recursive: true, force: true });
  }
});

test('stop the gateway mid-output, start it again: the output continues byte-exact', async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'cloudterm-restart-'));
  const usersFile = await writeUsersFile(dataDir);
  const port = await freePort();
  gateway = await startGatewayProcess({ port, dataDir, usersFile });
  const url = `http://127.0.0.1:${port}`;
  const alice = new ApiClient(url, null);
  assert.equal((await alice.request('POST', '/api/login', { username: 'alice', password: PASSWORDS.alice })).status, 200);
  const { body } = await alice.request('POST', '/api/sessions', {});

  const expected = Buffer.from(execFileSync('seq', ['1', '400000'], { maxBuffer: 64 << 20 }).toString().replace(/\n/g, '\r\n'));
  const first = await alice.attach(body.id);
  first.type("stty -echo; PS1=''; read go; seq 1 400000; read done\r");
  await new Promise((r) => setTimeout(r, 500));
  const start = first.received;
  first.type('\r');
  await first.waitFor(() => first.received - start > 200_000, 'output under way');

  const stopping = gateway.stop();
  await first.waitForClose();
  assert.equal(first.closeCode, CloseCode.GatewayRestart.code, 'told to reconnect elsewhere');
  await stopping;

  gateway = await startGatewayProcess({ port, dataDir, usersFile });
  // The same cookie still works: the keys are kept in the data directory.
  const second = await alice.attach(body.id, { attachAt: first.received });
  await second.waitForText('\r\n400000\r\n', 30_000);
  assert.equal(second.firstOffset, first.received, 'resumed exactly where the first attachment stopped');
  assert.equal(second.find('gap'), undefined);
  const whole = Buffer.concat([first.output(), second.output()]);
  // Located, not assumed: the shell may still echo or prompt between `start` and the sequence.
  const seqStart = whole.indexOf('1\r\n2\r\n3\r\n', start);
  const seqPart = whole.subarray(seqStart, seqStart + expected.length);
  assert.ok(seqPart.equals(expected), 'nothing lost, nothing doubled across the restart');
  second.type('\rexit\r');
  await second.waitForClose();
  await gateway.stop();
});
