// --record writes an asciicast v2 file whose output events replay to the same bytes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { startAgentFixture } from '../../helpers/agent-fixture.js';

test('the recording is valid asciicast v2 and plays back to the bytes the client saw', async () => {
  const recordPath = join(tmpdir(), `cloudterm-rec-${process.pid}-${Date.now()}.cast`);
  const agent = await startAgentFixture({
    command: '/bin/sh',
    args: ['-c', "stty -echo; read go; printf 'h\\303\\251llo \\342\\202\\254 w\\303\\266rld\\n'; seq 1 20000; printf 'done\\n'"],
    recordPath,
  });
  const client = await agent.connect();
  client.resize(100, 30);
  await client.waitFor(() => client.find('resized') !== undefined, 'resized');
  client.type('\r');
  await client.waitForClose();
  await agent.agent.done;

  const lines = (await readFile(recordPath, 'utf8')).trimEnd().split('\n');
  const header = JSON.parse(lines[0]!) as Record<string, unknown>;
  assert.equal(header.version, 2);
  assert.equal(header.width, 80);
  assert.equal(header.height, 24);
  const events = lines.slice(1).map((line) => JSON.parse(line) as [number, string, string]);
  let lastTime = 0;
  for (const [time] of events) {
    assert.ok(time >= lastTime, 'event times never go back');
    lastTime = time;
  }
  assert.deepEqual(events.find(([, kind]) => kind === 'r')?.[2], '100x30');
  const played = events.filter(([, kind]) => kind === 'o').map(([, , data]) => data).join('');
  assert.equal(Buffer.from(played, 'utf8').toString('hex'), client.output().toString('hex'));
  assert.ok(played.includes('héllo € wörld'));
});
