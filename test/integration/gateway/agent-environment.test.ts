// A local agent, and its shell, see what a login session would, never the gateway's own
// configuration or secrets: a variable meant for the gateway reconfigures no agent.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startGatewayFixture } from '../../helpers/gateway-fixture.js';

test("the shell sees the login variables, not the gateway's secrets; agents ignore the gateway's CLOUDTERM_* variables", async (t) => {
  const gw = await startGatewayFixture({
    env: { DATABASE_PASSWORD: 'hunter2', CLOUDTERM_AGENT_MAX_ATTACHMENTS: '1', NODE_OPTIONS: '--no-deprecation', TZ: 'UTC' },
  });
  // Stops the gateway and ends every agent it started.
  t.after(() => gw.stop());
  const alice = await gw.login('alice');
  const { body } = await alice.request<{ id: string }>('POST', '/api/sessions', {});
  const first = await alice.attach(body.id);
  t.after(() => first.close());
  first.type('echo "[${DATABASE_PASSWORD:-unset}] [${CLOUDTERM_AGENT_MAX_ATTACHMENTS:-unset}] [${NODE_OPTIONS:-unset}] [$TZ] [$LANG]"\r');
  await first.waitForText('[unset] [unset] [unset] [UTC] [C.UTF-8]');
  // Had the agent read CLOUDTERM_AGENT_MAX_ATTACHMENTS=1, a second attachment would be refused.
  const second = await alice.attach(body.id);
  t.after(() => second.close());
  second.type('echo second-$((40+2))\r');
  await second.waitForText('second-42');
});
