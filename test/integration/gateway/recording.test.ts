// A gateway started with --record-dir records every terminal it starts as an asciicast v2 file:
// what the user saw, replayable with standard tools, readable by the gateway's user alone.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startGatewayFixture, type GatewayFixture } from '../../helpers/gateway-fixture.js';

let gw: GatewayFixture;
let scratch: string;
let recordDir: string;

before(async () => {
  scratch = await mkdtemp(join(tmpdir(), 'cloudterm-rec-'));
  // Not there yet: the gateway makes it at start.
  recordDir = join(scratch, 'recordings');
  gw = await startGatewayFixture({ args: ['--record-dir', recordDir] });
});
after(async () => {
  await gw.stop();
  await rm(scratch, { recursive: true, force: true });
});

/** The recording's events once it holds `text` (the agent writes as output arrives). */
async function recordingWith(path: string, text: string): Promise<{ header: Record<string, unknown>; events: [number, string, string][] }> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const lines = (await readFile(path, 'utf8').catch(() => '')).split('\n').filter(Boolean);
    const events = lines.slice(1).map((line) => JSON.parse(line) as [number, string, string]);
    if (events.some(([, kind, data]) => kind === 'o' && data.includes(text)) || Date.now() > deadline) {
      assert.ok(lines.length > 0, `${path} was never written`);
      return { header: JSON.parse(lines[0]!) as Record<string, unknown>, events };
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

test('every terminal is recorded to <session id>.cast: its size, then what it printed, in order', async () => {
  const alice = await gw.login('alice');
  const { body } = await alice.request<{ id: string; recorded: boolean }>('POST', '/api/sessions', { cols: 100, rows: 30 });
  assert.equal(body.recorded, true, 'the API says the terminal is recorded');
  const created = gw.logs.map((line) => JSON.parse(line) as { audit?: { event: string; session: string; recorded: boolean } }).find((entry) => entry.audit?.event === 'session.create' && entry.audit.session === body.id);
  assert.equal(created?.audit?.recorded, true, 'and so does the audit trail');
  const terminal = await alice.attach(body.id);
  terminal.type('echo "recorded-$((6*7))"\r');
  await terminal.waitForText('recorded-42');
  await terminal.close();
  assert.equal((await alice.request('DELETE', `/api/sessions/${body.id}`)).status, 204);

  const path = join(recordDir, `${body.id}.cast`);
  const { header, events } = await recordingWith(path, 'recorded-42');
  assert.equal(header.version, 2);
  assert.equal(header.width, 100);
  assert.equal(header.height, 30);
  const output = events.filter(([, kind]) => kind === 'o').map(([, , data]) => data).join('');
  assert.match(output, /recorded-42\r\n/, 'the command\'s output, as the terminal showed it');
  const times = events.map(([seconds]) => seconds);
  assert.deepEqual(times, [...times].sort((a, b) => a - b), 'events in time order');
  assert.equal((await stat(path)).mode & 0o777, 0o600, 'the recording is readable by its owner alone');
  assert.equal((await stat(recordDir)).mode & 0o777, 0o700, 'and so is the directory the gateway made');
});

test('two terminals get two recordings, each with its own output only', async () => {
  const bob = await gw.login('bob');
  const ids: string[] = [];
  for (const word of ['first', 'second']) {
    const { body } = await bob.request<{ id: string }>('POST', '/api/sessions', {});
    const terminal = await bob.attach(body.id);
    terminal.type(`echo "${word}-""terminal"\r`);
    await terminal.waitForText(`${word}-terminal`);
    await terminal.close();
    ids.push(body.id);
  }
  const first = await recordingWith(join(recordDir, `${ids[0]}.cast`), 'first-terminal');
  const second = await recordingWith(join(recordDir, `${ids[1]}.cast`), 'second-terminal');
  const text = (events: [number, string, string][]) => events.map(([, , data]) => data).join('');
  assert.doesNotMatch(text(first.events), /second-terminal/);
  assert.doesNotMatch(text(second.events), /first-terminal/);
  for (const id of ids) await bob.request('DELETE', `/api/sessions/${id}`);
});
