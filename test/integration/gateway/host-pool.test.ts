// Local mode's pool of terminal hosts, driven directly (real `cloudterm agent-host` processes, real
// PTYs): the race of a terminal opened while its host is exiting, as it does once idle. The old
// host's end must neither end the new terminal nor be named as its end (commit bf34b8a). The
// host is held in its stop, so the order of events is fixed, not left to timing.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HostPool } from '../../../gateway/src/sessions/host-pool.js';
import { hostRequest, hostStatus } from '../../../gateway/src/sessions/host-client.js';
import { generateSigningKeyPair } from '../../../core/src/keys/key-pair.js';
import { SELF_COMMAND } from '../../helpers/gateway-fixture.js';
import { eventually, processRunning as alive } from '../../kube/wait.js';

test('a terminal opened as its host exits opens on a new host; the old host’s end neither ends it nor names its end', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'cloudterm-pool-'));
  const publicKeyFile = join(dir, 'attach.pub');
  await writeFile(publicKeyFile, (await generateSigningKeyPair()).publicKeyPem);
  const ended: Array<{ id: string; reason: string }> = [];
  // One host, so that the new terminal has to go to the slot of the host that is exiting. Its
  // terminals' program takes 1.5 s to end on the hangup a stopping host sends, so that the host
  // stays in its stop (refusing new terminals, its event stream still open) for that long.
  const pool = new HostPool(
    {
      socketDir: dir,
      logDir: dir,
      selfCommand: SELF_COMMAND,
      launch: { publicKeyFile, recordDir: null, command: ['/bin/sh', '-c', 'trap "sleep 1.5; exit" HUP; while :; do sleep 0.1; done'], exitWhenIdle: true },
      env: process.env,
      size: 1,
      startTimeoutMs: 20_000,
    },
    (id, reason) => ended.push({ id, reason }),
  );
  const [socketPath] = pool.socketPaths as [string];
  const started = new Set<number>();
  t.after(async () => {
    pool.close();
    for (const pid of started) if (alive(pid)) process.kill(pid, 'SIGKILL');
    await rm(dir, { recursive: true, force: true });
  });

  started.add((await pool.open('first', { cols: 80, rows: 24 })).pid);
  const oldHost = (await hostStatus(socketPath, 2_000))!.body.pid;
  started.add(oldHost);
  // The host stops (as it does when idle: the same stop), and is seen refusing new terminals.
  process.kill(oldHost, 'SIGTERM');
  await eventually('the old host to refuse new terminals', async () => {
    const probe = await hostRequest<{ error: { code: string } }>(socketPath, 'PUT', '/terminals/probe', 2_000, { cols: 80, rows: 24 });
    return probe?.body.error?.code === 'host_stopping' || undefined;
  }, 10_000, 20);
  // A terminal is opened now: the old host refuses it, its stream ends and it exits (once the
  // first terminal's program has ended), and the terminal is opened again on a new host.
  const opened = await pool.open('second', { cols: 80, rows: 24 });
  started.add(opened.pid);
  const newHost = (await hostStatus(socketPath, 2_000))!.body.pid;
  started.add(newHost);
  assert.notEqual(newHost, oldHost, 'a new host serves the slot');
  assert.ok(!alive(oldHost), 'the old host is gone');
  // The pool's wait for the old host's exit polls every 20 ms: it has long ended.
  await new Promise((resolve) => setTimeout(resolve, 500));
  assert.deepEqual(ended.map((e) => e.id), ['first'], `only the old host's terminal ended: ${JSON.stringify(ended)}`);
  assert.equal((await hostRequest(socketPath, 'GET', '/terminals/second', 2_000))?.status, 200, 'the new terminal runs');

  // The new host's own crash is what ends the new terminal, and its reason names that host.
  process.kill(newHost, 'SIGKILL');
  await eventually('the second terminal to be reported ended', () => ended.some((e) => e.id === 'second') || undefined, 10_000, 20);
  const reason = ended.find((e) => e.id === 'second')!.reason;
  assert.match(reason, new RegExp(`pid ${newHost}\\) killed by SIGKILL`), reason);
});
