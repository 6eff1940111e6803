// Stop, then forget, with real local terminals: a session's record goes only once its program
// is gone, and a program that does not stop is reported, counted, killed and forgotten by a later
// reaper pass, never left running without a record. (A local record's pid is its terminal's
// program, served by a terminal host.)
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { startGatewayFixture, type ApiClient, type GatewayFixture } from '../../helpers/gateway-fixture.js';

/** Whether the terminal's program still runs (a zombie has ended). */
function agentRuns(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return false;
  }
}

async function newSession(gw: GatewayFixture, client: ApiClient): Promise<{ id: string; pid: number }> {
  const { body } = await client.request<{ id: string }>('POST', '/api/sessions', {});
  const record = await gw.gateway.stores.sessions.get(body.id);
  assert.ok(record?.pid, 'a local agent has a pid');
  assert.ok(agentRuns(record.pid));
  return { id: body.id, pid: record.pid };
}

async function until(what: string, check: () => Promise<boolean>, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

const metric = async (gw: GatewayFixture, name: string) => Number(new RegExp(`^${name} (\\d+)$`, 'm').exec(await (await fetch(`${gw.url}/metrics`)).text())?.[1]);

test('a DELETE answers once the agent is gone; a reaped session is forgotten only after its agent', async (t) => {
  const gw = await startGatewayFixture();
  t.after(() => gw.stop());
  const alice = await gw.login('alice');

  const deleted = await newSession(gw, alice);
  assert.equal((await alice.request('DELETE', `/api/sessions/${deleted.id}`)).status, 204);
  assert.equal(agentRuns(deleted.pid), false, 'no agent left behind by the time the DELETE answers');

  const expired = await newSession(gw, alice);
  await gw.gateway.stores.sessions.extend(expired.id, Date.now() - 1);
  await until('the reaper', async () => (await alice.request('GET', `/api/sessions/${expired.id}`)).status === 404);
  assert.equal(agentRuns(expired.pid), false, 'the record went after the agent, never before');
  // The pass counts it once its stop has returned, which can be just after the record went.
  await until('the pass to count it', async () => (await metric(gw, 'cloudterm_gateway_reaped_sessions_total')) >= 1);
  assert.equal(await metric(gw, 'cloudterm_gateway_reaped_sessions_total'), 1);
});

test('an agent that does not stop: 502, counted, the session kept as ending, then killed and forgotten by the reaper', async (t) => {
  const gw = await startGatewayFixture({ timings: { agentStopTimeoutMs: 500 } });
  t.after(() => gw.stop());
  const alice = await gw.login('alice');
  const { id, pid } = await newSession(gw, alice);
  // A stopped process takes no SIGHUP until it is continued: the stop times out.
  process.kill(pid, 'SIGSTOP');
  t.after(() => {
    if (agentRuns(pid)) process.kill(pid, 'SIGKILL');
  });

  const refused = await alice.request<{ error: { code: string; message: string } }>('DELETE', `/api/sessions/${id}`);
  assert.equal(refused.status, 502);
  assert.equal(refused.body.error.code, 'upstream_failed');
  assert.match(refused.body.error.message, /could not be stopped .*did not stop within 500 ms.*; it is retried/);
  assert.equal(await metric(gw, 'cloudterm_gateway_session_stop_failures_total'), 1);
  assert.ok(gw.logs.some((line) => line.includes('Could not stop a terminal') && line.includes(id)), 'the failure is logged');

  // The failed stop ended in SIGKILL; the next reaper pass finds the agent gone and forgets it.
  await until('the retry', async () => (await alice.request('GET', `/api/sessions/${id}`)).status === 404);
  assert.equal(agentRuns(pid), false);
});
