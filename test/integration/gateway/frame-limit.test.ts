// A frame over the agent's 1 MiB input limit closes with 1009 through the gateway, on both proxy
// cores, whatever the timing. It once raced to 4502 "agent unreachable" (the agent reset the
// connection with the frame's rest unread), which tells a client to reconnect and resend the same
// input forever, and counted as an agent failure in /metrics.
import { test, describe, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { startGatewayFixture, type GatewayFixture } from '../../helpers/gateway-fixture.js';
import { encodeInput } from '../../../core/src/protocol/messages.js';
import { CloseCode } from '../../../core/src/protocol/close-codes.js';
import type { ProxyCore } from '../../../gateway/src/proxy/index.js';

const LIMIT = 1024 * 1024;
const ROUNDS = 20;
/** The frame's payload sizes: an input message is one type byte, then the data. */
const SIZES = [LIMIT + 1, LIMIT + 16, LIMIT * 1.5];

async function connections(gw: GatewayFixture): Promise<number> {
  return new Promise((resolve, reject) => gw.gateway.app.server.getConnections((error, count) => (error ? reject(error) : resolve(count))));
}

for (const core of ['native', 'js'] as ProxyCore[]) {
  describe(`frames over the input limit through the ${core} core`, () => {
    let gw: GatewayFixture;
    before(async () => {
      gw = await startGatewayFixture({ args: ['--proxy-core', core] });
    });
    after(() => gw.stop());

    test(`limit+1, limit+16 and 1.5x the limit close 1009 every time (${ROUNDS} rounds), never 4502`, async () => {
      const alice = await gw.login('alice');
      const { body } = await alice.request('POST', '/api/sessions', {});
      const seen = new Map<number, Set<number>>(SIZES.map((size) => [size, new Set()]));
      for (let round = 0; round < ROUNDS; round++) {
        for (const size of SIZES) {
          const client = await alice.attach(body.id);
          client.socket.send(encodeInput(Buffer.alloc(size - 1, 0x61)));
          await client.waitForClose();
          seen.get(size)!.add(client.closeCode!);
        }
      }
      for (const [size, codes] of seen) assert.deepEqual([...codes], [CloseCode.TooBig.code], `a ${size}-byte frame closed with ${[...codes].join(', ')}`);

      const metrics = await alice.request<string>('GET', '/metrics');
      assert.doesNotMatch(metrics.body, /cloudterm_gateway_proxy_errors_total\{reason="agent_failed"\}/, 'no attachment counted as an agent failure');
      // The gateway lets go of every closed attachment's socket (the API's keep-alive ones stay).
      const deadline = Date.now() + 5_000;
      while ((await connections(gw)) > 2 && Date.now() < deadline) await sleep(100);
      assert.ok((await connections(gw)) <= 2, `${await connections(gw)} connections still held after ${ROUNDS * SIZES.length} closed attachments`);
      assert.equal(gw.gateway.attach.attachments, 0);

      // The session is unharmed: a new attachment echoes.
      const client = await alice.attach(body.id);
      client.type('echo still-here-$((6*7))\r');
      await client.waitForText('still-here-42');
      await client.close();
    });
  });
}
