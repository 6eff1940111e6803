// Local mode across a gateway restart: the gateway process is stopped mid-output and started
// again on the same data directory; the terminal (a detached agent) keeps running, the browser
// side reconnects with its cookie and resumes from its offset — nothing lost, nothing doubled.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { once } from 'node:events';
import { createServer } from 'node:net';
import { ApiClient, PASSWORDS, SELF_COMMAND, writeUsersFile } from '../../helpers/gateway-fixture.js';
import { CloseCode } from '../../../gateway/src/protocol/close-codes.js';

const children: ChildProcess[] = [];
let dataDir = '';
after(async () => {
  for (const child of children) child.kill('SIGKILL');
  // End the detached agents this test started.
  try {
    execFileSync('pkill', ['-f', '--', `--public-key-file ${dataDir}/keys/attach.pub`]);
  } catch {
    // none left
  }
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
});

async function freePort(): Promise<number> {
  const server = createServer().listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as { port: number };
  server.close();
  return port;
}

async function startGatewayProcess(port: number, usersFile: string): Promise<ChildProcess> {
  const [command, ...prefix] = SELF_COMMAND;
  const child = spawn(
    command!,
    [...prefix, 'local', '--listen', `127.0.0.1:${port}`, '--data-dir', dataDir, '--users-file', usersFile, '--shell', '/bin/sh'],
    { stdio: ['ignore', 'pipe', 'pipe'], env: { PATH: process.env.PATH, HOME: dataDir, LANG: 'C.UTF-8' } },
  );
  children.push(child);
  let out = '';
  child.stdout!.on('data', (chunk: Buffer) => (out += chunk));
  const deadline = Date.now() + 20_000;
  while (!out.includes('Gateway listening')) {
    if (Date.now() > deadline || child.exitCode !== null) throw new Error(`gateway did not start: ${out}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  return child;
}

test('stop the gateway mid-output, start it again: the output continues byte-exact', async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'cloudterm-restart-'));
  const usersFile = await writeUsersFile(dataDir);
  const port = await freePort();
  let gateway = await startGatewayProcess(port, usersFile);
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

  gateway.kill('SIGTERM');
  await first.waitForClose();
  assert.equal(first.closeCode, CloseCode.GatewayRestart.code, 'told to reconnect elsewhere');
  await once(gateway, 'exit');

  gateway = await startGatewayProcess(port, usersFile);
  // The same cookie still works: the keys are kept in the data directory.
  const second = await alice.attach(body.id, { attachAt: first.received });
  await second.waitFor(() => second.received >= start + expected.length, 'the rest of the output', 30_000);
  assert.equal(second.firstOffset, first.received, 'resumed exactly where the first attachment stopped');
  assert.equal(second.find('gap'), undefined);
  const whole = Buffer.concat([first.output(), second.output()]);
  const seqPart = whole.subarray(start, start + expected.length);
  assert.ok(seqPart.equals(expected), 'nothing lost, nothing doubled across the restart');
  second.type('\rexit\r');
  await second.waitForClose();
  gateway.kill('SIGTERM');
  await once(gateway, 'exit');
});
