// Local mode's pool of terminal hosts, through a real gateway with real PTYs: many terminals per
// host, a host that crashes (its terminals end with the reason, the others go on, new ones open),
// closing every terminal leaves no process, and a gateway restart adopts the hosts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runningAgents, startGatewayFixture, stopAllAgents, terminalHostPid, type ApiClient } from '../../helpers/gateway-fixture.js';
import { CloseCode } from '../../../core/src/protocol/close-codes.js';
import type { TestClient } from '../../helpers/agent-client.js';

async function until(what: string, check: () => boolean | Promise<boolean>, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

async function open(client: ApiClient, count: number): Promise<string[]> {
  const created = await Promise.all(Array.from({ length: count }, () => client.request<{ id: string }>('POST', '/api/sessions', {})));
  for (const response of created) assert.equal(response.status, 201, JSON.stringify(response.body));
  return created.map((response) => response.body.id);
}

async function echoes(terminal: TestClient, mark: string): Promise<void> {
  terminal.type(`echo "${mark}""-ok"\r`);
  await terminal.waitForText(`${mark}-ok\r\n`);
}

test('a host SIGKILLed: its terminals end with the reason, the other hosts’ go on, new terminals open', async (t) => {
  const gw = await startGatewayFixture({ args: ['--terminal-hosts', '3', '--max-sessions-per-user', '50'] });
  t.after(() => gw.stop());
  const alice = await gw.login('alice');
  const ids = await open(alice, 12);
  const hostOf = new Map<string, number>();
  for (const id of ids) hostOf.set(id, await terminalHostPid(gw.gateway, id));
  assert.equal(new Set(hostOf.values()).size, 3, 'spread over the three hosts');
  assert.equal(runningAgents(gw.dataDir).length, 3, 'three processes for twelve terminals');

  const terminals = await Promise.all(ids.map((id) => alice.attach(id)));
  await Promise.all(terminals.map((terminal, i) => echoes(terminal, `before-${i}`)));
  const victim = hostOf.get(ids[0]!)!;
  const lost = ids.filter((id) => hostOf.get(id) === victim);
  process.kill(victim, 'SIGKILL');

  // The attachments of its terminals close (the browser is told), never hang.
  for (const [i, id] of ids.entries()) {
    if (hostOf.get(id) !== victim) continue;
    await terminals[i]!.waitForClose(5_000);
    assert.ok([CloseCode.UpstreamFailed.code, CloseCode.SessionGone.code, 1006].includes(terminals[i]!.closeCode!), `close ${terminals[i]!.closeCode}`);
  }
  // Ended, with why: gone from the list, and an attach says so.
  await until('the lost sessions to be forgotten', async () => {
    const list = await alice.request<{ sessions: { id: string }[] }>('GET', '/api/sessions');
    return lost.every((id) => !list.body.sessions.some((session) => session.id === id));
  });
  const refused = await alice.request<{ error: { code: string; message: string } }>('GET', `/api/sessions/${lost[0]}`);
  assert.equal(refused.status, 404);
  assert.match(refused.body.error.message, new RegExp(`ended: its terminal host \\(pid ${victim}\\) killed by SIGKILL unexpectedly`));
  assert.ok(gw.logs.some((line) => line.includes('Session ended') && line.includes(lost[0]!) && line.includes('SIGKILL')), 'logged with the reason');

  // The other hosts' terminals did not notice.
  await Promise.all(ids.map((id, i) => (hostOf.get(id) === victim ? null : echoes(terminals[i]!, `after-${i}`))));
  // New terminals still open, and echo (the lost host's place is taken by a new one).
  const fresh = await open(alice, 6);
  const freshTerminals = await Promise.all(fresh.map((id) => alice.attach(id)));
  await Promise.all(freshTerminals.map((terminal, i) => echoes(terminal, `fresh-${i}`)));
  await Promise.all([...terminals, ...freshTerminals].map((terminal) => terminal.close()));
});

test('closing every terminal leaves no process behind', async (t) => {
  const gw = await startGatewayFixture({ args: ['--max-sessions-per-user', '50'] });
  t.after(() => gw.stop());
  const alice = await gw.login('alice');
  const ids = await open(alice, 10);
  const shells = await Promise.all(ids.map(async (id) => (await gw.gateway.stores.sessions.get(id))!.pid!));
  assert.ok(runningAgents(gw.dataDir).length > 0);
  const exited = await alice.attach(ids[0]!);
  exited.type('exit\r');
  await exited.waitForClose();
  for (const id of ids.slice(1)) assert.equal((await alice.request('DELETE', `/api/sessions/${id}`)).status, 204);
  await until('the hosts to exit', () => runningAgents(gw.dataDir).length === 0);
  for (const pid of shells) assert.throws(() => process.kill(pid, 0), `shell ${pid} is gone`);
  // And the next terminal starts a host again.
  const [next] = await open(alice, 1);
  await echoes(await alice.attach(next!), 'next');
});

test('a gateway restart adopts the hosts: terminals resume, and their ends are still heard', async (t) => {
  const dataDir = await mkdtemp(join(tmpdir(), 'cloudterm-hosts-restart-'));
  const before = await startGatewayFixture({ dataDir });
  const ids = await open(await before.login('alice'), 3);
  const first = await Promise.all(ids.map(async (id) => (await before.login('alice')).attach(id)));
  await Promise.all(first.map((terminal, i) => echoes(terminal, `one-${i}`)));
  const offsets = first.map((terminal) => terminal.received);
  await before.gateway.close();

  const after = await startGatewayFixture({ dataDir });
  t.after(async () => {
    await after.gateway.close();
    stopAllAgents(dataDir);
    await until('the hosts to stop', () => runningAgents(dataDir).length === 0);
    await rm(dataDir, { recursive: true, force: true });
  });
  const alice = await after.login('alice');
  const second = await Promise.all(ids.map((id, i) => alice.attach(id, { attachAt: offsets[i] })));
  await Promise.all(second.map((terminal, i) => echoes(terminal, `two-${i}`)));
  second.forEach((terminal, i) => assert.equal(terminal.firstOffset, offsets[i], 'resumed where it stopped'));
  // A terminal of an adopted host that ends is forgotten by the new gateway.
  second[0]!.type('exit\r');
  await second[0]!.waitForClose();
  await until('the ended session to go', async () => (await alice.request('GET', `/api/sessions/${ids[0]}`)).status === 404);
  await Promise.all(second.slice(1).map((terminal) => terminal.close()));
});
