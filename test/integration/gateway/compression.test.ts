// permessage-deflate end to end through the splice: the client and the agent negotiate it (the
// 101's parameters are the agent's own), the frames cross the gateway compressed (its byte
// counters see a fraction of the output), output stays byte-exact across a resume and beside a
// viewer that did not offer it, `--compression=false` turns it off, an offer the agent cannot
// accept is declined (the attachment goes on uncompressed), and a small compressed frame that
// inflates past the message limit closes 1009 while the host and its other terminals go on.
import { test, describe, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startGatewayFixture, terminalHostPid, type GatewayFixture } from '../../helpers/gateway-fixture.js';
import type { TestClient } from '../../helpers/agent-client.js';
import { CloseCode } from '../../../core/src/protocol/close-codes.js';
import { encodeInput } from '../../../core/src/protocol/messages.js';
import type { ProxyCore } from '../../../gateway/src/proxy/index.js';

/** What the agent answers ws's offer: its own window (docs/protocol.md, "Compression"). */
const AGENT_ANSWER = 'permessage-deflate; server_max_window_bits=13';
const A_BYTES = 4_000_000;

const fixtures: GatewayFixture[] = [];
after(async () => {
  for (const fixture of fixtures) await fixture.stop().catch(() => undefined);
});

async function gateway(args: string[] = []): Promise<GatewayFixture> {
  const fixture = await startGatewayFixture({ args });
  fixtures.push(fixture);
  return fixture;
}

async function downBytes(gw: GatewayFixture): Promise<number> {
  const text = await fetch(`${gw.url}/metrics`).then((r) => r.text());
  return Number(/cloudterm_gateway_proxied_bytes_total\{direction="down"\} (\d+)/.exec(text)?.[1] ?? NaN);
}

/** Has the shell print A_BYTES of `a`; what arrived from then on, as `a`s only (no newlines, no marker). */
async function streamOfA(client: TestClient): Promise<string> {
  // The marker is put together by the shell: the echoed command line does not hold it.
  client.type(`stty -echo; PS1=; clear; read x; head -c ${A_BYTES} /dev/zero | tr '\\0' a; e=EN; echo; echo \${e}D\r`);
  await new Promise((r) => setTimeout(r, 300));
  const start = client.received;
  client.type('\r');
  await client.waitForText('END', 30_000);
  const output = client.output();
  return output.subarray(output.length - (client.received - start)).toString('latin1').replace(/[\r\n]|END/g, '');
}

/** Compared without printing megabytes when it fails. */
function assertAllA(text: string): void {
  assert.ok(text.length === A_BYTES && /^a*$/.test(text), `${A_BYTES} bytes of a, exact (got ${text.length}: ${JSON.stringify(text.replace(/a+/g, (run) => `a×${run.length}`).slice(0, 200))})`);
}

for (const core of ['native', 'js'] as ProxyCore[]) {
  describe(`compression through the ${core} core`, () => {
    test('negotiated by default with the agent, and the frames cross the gateway compressed', async (t) => {
      const recordings = await mkdtemp(join(tmpdir(), 'cloudterm-rec-'));
      t.after(() => rm(recordings, { recursive: true, force: true }));
      const gw = await gateway(['--proxy-core', core, '--record-dir', recordings]);
      const alice = await gw.login('alice');
      const { body } = await alice.request('POST', '/api/sessions', {});
      const client = await alice.attach(body.id, { deflate: true });
      t.after(() => client.close());
      assert.equal(client.upgradeHeaders['sec-websocket-extensions'], AGENT_ANSWER);
      const before = await downBytes(gw);
      const output = await streamOfA(client);
      const counted = (await downBytes(gw)) - before;
      assertAllA(output);
      // Spliced, not decoded: the gateway moved the compressed frames (a stream of `a` deflates
      // more than a hundredfold); a gateway that inflated would have counted the whole stream.
      assert.ok(counted < A_BYTES / 20, `the gateway moved ${counted} bytes for ${A_BYTES} of output`);
      // The recording is of the terminal's output, not of the compressed frames.
      const cast = await readFile(join(recordings, `${body.id}.cast`), 'utf8');
      assert.ok(cast.includes('a'.repeat(1000)), 'the recording holds the plain output');
    });

    test('byte-exact across a resume, beside a viewer that offered nothing', async (t) => {
      const gw = await gateway(['--proxy-core', core]);
      const alice = await gw.login('alice');
      const bob = await gw.login('bob');
      const { body } = await alice.request('POST', '/api/sessions', {});
      await alice.request('PUT', `/api/sessions/${body.id}/shares/bob`, { role: 'ro' });
      const expected = Buffer.from(execFileSync('seq', ['1', '200000'], { maxBuffer: 64 << 20 }).toString().replace(/\n/g, '\r\n'));
      const first = await alice.attach(body.id, { deflate: true });
      const viewer = await bob.attach(body.id);
      t.after(() => viewer.close());
      assert.equal(viewer.upgradeHeaders['sec-websocket-extensions'], undefined, 'no offer, no compression');
      first.type('stty -echo; PS1=; clear; read x; seq 1 200000; read y\r');
      await new Promise((r) => setTimeout(r, 300));
      const start = first.received;
      const viewerStart = viewer.received;
      first.type('\r');
      await first.waitFor(() => first.received - start >= expected.length / 3, 'a third');
      await first.close();
      const second = await alice.attach(body.id, { attachAt: first.received, deflate: true });
      t.after(() => second.close());
      assert.equal(second.upgradeHeaders['sec-websocket-extensions'], AGENT_ANSWER);
      await second.waitForText('\r\n200000\r\n', 20_000);
      await viewer.waitForText('\r\n200000\r\n', 20_000);
      const seqOf = (whole: Buffer) => whole.subarray(whole.indexOf('1\r\n2\r\n'), whole.indexOf('1\r\n2\r\n') + expected.length);
      assert.ok(seqOf(Buffer.concat([first.output(), second.output()]).subarray(start)).equals(expected), 'compressed, through two attachments: exactly seq 1 200000');
      assert.ok(seqOf(viewer.output().subarray(viewerStart)).equals(expected), 'the plain viewer: exactly seq 1 200000');
    });
  });
}

describe('compression off, and offers the agent cannot take', () => {
  test('--compression=false: the offer is not passed on, the session works uncompressed', async (t) => {
    const gw = await gateway(['--compression=false']);
    const alice = await gw.login('alice');
    const { body } = await alice.request('POST', '/api/sessions', {});
    const client = await alice.attach(body.id, { deflate: true });
    t.after(() => client.close());
    assert.equal(client.upgradeHeaders['sec-websocket-extensions'], undefined);
    const before = await downBytes(gw);
    const output = await streamOfA(client);
    assertAllA(output);
    assert.ok((await downBytes(gw)) - before >= A_BYTES, 'every byte crossed the gateway as it is');
  });

  test('a malformed or unacceptable offer is declined: 101 without compression, and it echoes', async () => {
    const gw = await gateway();
    const alice = await gw.login('alice');
    const { body } = await alice.request('POST', '/api/sessions', {});
    const offers = [
      'permessage-deflate; server_max_window_bits=99',
      'permessage-deflate; no_such_parameter',
      'permessage-deflate; server_max_window_bits=9',
      'permessage-deflate; client_max_window_bits=1; client_max_window_bits=2',
      'permessage-deflate;;=;',
    ];
    for (const offer of offers) {
      // ws fails a client whose answer names an extension it did not offer: no answer is the pass.
      const client = await alice.attach(body.id, { headers: { 'sec-websocket-extensions': offer } });
      assert.equal(client.upgradeHeaders['sec-websocket-extensions'], undefined, offer);
      const marker = `ok-${offers.indexOf(offer)}`;
      client.type(`echo ${marker}\r`);
      await client.waitForText(`${marker}\r\n`);
      await client.close();
    }
  });

  test('a compressed message inflating past the 1 MiB limit closes 1009; the host and its other terminals go on', async (t) => {
    const gw = await gateway(['--terminal-hosts', '1']);
    const alice = await gw.login('alice');
    const one = (await alice.request('POST', '/api/sessions', {})).body;
    const other = (await alice.request('POST', '/api/sessions', {})).body;
    const hostPid = await terminalHostPid(gw.gateway, one.id);
    assert.equal(await terminalHostPid(gw.gateway, other.id), hostPid, 'both terminals on one host');
    const bystander = await alice.attach(other.id, { deflate: true });
    const sameSession = await alice.attach(one.id, { deflate: true });
    t.after(() => Promise.all([bystander.close(), sameSession.close()]));
    const bomb = await alice.attach(one.id, { deflate: true });
    // 4 MiB of one byte: a few kilobytes on the wire, four times the limit once inflated.
    bomb.socket.send(encodeInput(Buffer.alloc(4 << 20, 0x78)));
    await bomb.waitForClose();
    assert.equal(bomb.closeCode, CloseCode.TooBig.code);
    for (const [client, marker] of [[bystander, 'still-here'], [sameSession, 'same-session']] as const) {
      client.type(`echo ${marker}\r`);
      await client.waitForText(`${marker}\r\n`);
    }
    assert.equal(await terminalHostPid(gw.gateway, one.id), hostPid, 'the host did not restart');
  });
});
