// A local agent, and the shell it runs, gets what a login session has from the gateway's
// environment, and none of the gateway's own configuration or secrets.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { agentEnvironment } from '../../gateway/src/sessions/agent-environment.js';

test("the gateway's settings and secrets stay with the gateway; a login session's variables pass", () => {
  const env = agentEnvironment({
    HOME: '/home/ann',
    USER: 'ann',
    PATH: '/usr/bin:/bin',
    LANG: 'C.UTF-8',
    LC_ALL: 'C.UTF-8',
    SHELL: '/bin/bash',
    TZ: 'Europe/Paris',
    CLOUDTERM_GATEWAY_REDIS_URL: 'redis://:secret@redis:6379',
    CLOUDTERM_AGENT_MAX_ATTACHMENTS: '1',
    AWS_SECRET_ACCESS_KEY: 'x',
    NODE_OPTIONS: '--max-old-space-size=64',
    UNSET: undefined,
  });
  assert.deepEqual(env, { HOME: '/home/ann', USER: 'ann', PATH: '/usr/bin:/bin', LANG: 'C.UTF-8', LC_ALL: 'C.UTF-8', SHELL: '/bin/bash', TZ: 'Europe/Paris' });
});
