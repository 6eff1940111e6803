// Who may attach: only a fresh, single-use attach token for this session, signed by the gateway.
// Every refusal is a 401 with a JSON error before the upgrade, and the agent stays up.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { SignJWT, UnsecuredJWT, generateKeyPair, type CryptoKey } from 'jose';
import { startAgentFixture, type AgentFixture } from '../../helpers/agent-fixture.js';
import { TestClient } from '../../helpers/agent-client.js';
import { ATTACH_TOKEN_AUDIENCE, ATTACH_TOKEN_ISSUER } from '../../../core/src/keys/attach-token.js';

let agent: AgentFixture;
let bystander: TestClient;

before(async () => {
  agent = await startAgentFixture({ command: '/bin/sh', args: [] });
  bystander = await agent.connect('rw');
});
after(async () => {
  await bystander.close();
  await agent.stop();
});

async function refusal(headers: Record<string, string>): Promise<{ status: number; code: string }> {
  try {
    await TestClient.connect({ url: agent.url, headers });
  } catch (error) {
    const { status, body } = error as { status: number; body: string };
    return { status, code: (JSON.parse(body) as { error: { code: string } }).error.code };
  }
  throw new Error('the upgrade was accepted');
}

function claims(overrides: Record<string, unknown> = {}) {
  const now = Math.floor(Date.now() / 1000);
  return {
    sid: agent.sessionId,
    role: 'rw',
    sub: 'mallory',
    iss: ATTACH_TOKEN_ISSUER,
    aud: ATTACH_TOKEN_AUDIENCE,
    iat: now,
    exp: now + 30,
    jti: `j-${Math.random()}`,
    ...overrides,
  };
}

async function signWith(key: CryptoKey, payload: Record<string, unknown>): Promise<string> {
  return new SignJWT(payload).setProtectedHeader({ alg: 'ES256' }).sign(key);
}

const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

describe('agent attach tokens', () => {
  test('no token: 401 token_missing', async () => {
    assert.deepEqual(await refusal({}), { status: 401, code: 'token_missing' });
  });

  test('garbage token: 401 token_invalid', async () => {
    assert.deepEqual(await refusal(bearer('not.a.jwt')), { status: 401, code: 'token_invalid' });
  });

  test('signed by another key: 401 token_invalid', async () => {
    const { privateKey } = await generateKeyPair('ES256');
    assert.deepEqual(await refusal(bearer(await signWith(privateKey, claims()))), { status: 401, code: 'token_invalid' });
  });

  test('alg none: 401 token_invalid', async () => {
    const token = new UnsecuredJWT(claims()).encode();
    assert.deepEqual(await refusal(bearer(token)), { status: 401, code: 'token_invalid' });
  });

  test('expired: 401 token_expired', async () => {
    const now = Math.floor(Date.now() / 1000);
    const token = await signWith(agent.privateKey, claims({ iat: now - 120, exp: now - 60 }));
    assert.deepEqual(await refusal(bearer(token)), { status: 401, code: 'token_expired' });
  });

  test('living longer than a minute: 401 token_invalid', async () => {
    const now = Math.floor(Date.now() / 1000);
    const token = await signWith(agent.privateKey, claims({ iat: now, exp: now + 3600 }));
    assert.deepEqual(await refusal(bearer(token)), { status: 401, code: 'token_invalid' });
  });

  test("another session's token: 401 token_wrong_session", async () => {
    assert.deepEqual(await refusal(bearer(await agent.token('rw', 'alice', 'someone-elses-session'))), {
      status: 401,
      code: 'token_wrong_session',
    });
  });

  test('a token for another audience (a user token): 401 token_invalid', async () => {
    const token = await signWith(agent.privateKey, claims({ aud: 'cloudterm-user' }));
    assert.deepEqual(await refusal(bearer(token)), { status: 401, code: 'token_invalid' });
  });

  test('no valid role: 401 token_invalid', async () => {
    const token = await signWith(agent.privateKey, claims({ role: 'admin' }));
    assert.deepEqual(await refusal(bearer(token)), { status: 401, code: 'token_invalid' });
  });

  test('a token used twice: the second use is 401 token_reused', async (t) => {
    const token = await agent.token('rw');
    const first = await TestClient.connect({ url: agent.url, headers: bearer(token) });
    t.after(() => first.close());
    assert.deepEqual(await refusal(bearer(token)), { status: 401, code: 'token_reused' });
  });

  test('refusals are counted in the metrics and the attached client never noticed', async () => {
    const metrics = await (await fetch(agent.url.replace('ws://', 'http://').replace('/attach', '/metrics'))).text();
    assert.match(metrics, /cloudterm_agent_refused_tokens_total\{reason="token_invalid"\} [1-9]/);
    bystander.type('echo alive""-and-well\r');
    await bystander.waitForText('alive-and-well');
    assert.equal(bystander.closeCode, null);
  });
});
