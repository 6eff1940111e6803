// The one listen(): the port the system chose is reported, a unix socket path can replace a stale
// socket file only when asked, and a taken address fails with the system's error.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:net';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { listen } from '../../../core/src/net/listen.js';

function server(t: { after(fn: () => Promise<void>): void }): Server {
  const made = createServer();
  t.after(() => new Promise<void>((resolve) => made.close(() => resolve())));
  return made;
}

test('port 0: the bound address names the real port, as host:port and [v6]:port', async (t) => {
  const v4 = await listen(server(t), { host: '127.0.0.1', port: 0 });
  assert.ok('port' in v4.address && v4.address.port > 0);
  assert.equal(v4.text, `127.0.0.1:${'port' in v4.address ? v4.address.port : ''}`);
  const v6 = await listen(server(t), { host: '::1', port: 0 });
  assert.match(v6.text, /^\[::1\]:\d+$/);
});

test('a unix socket: an existing file is an error unless the path is ours to replace', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'cloudterm-listen-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const path = join(dir, 'a.sock');
  await writeFile(path, 'left behind');
  await assert.rejects(listen(server(t), { path }), { code: 'EADDRINUSE' });
  const bound = await listen(server(t), { path }, { replaceSocketFile: true });
  assert.deepEqual(bound, { address: { path }, text: `unix:${path}` });
});

test('an address in use rejects with EADDRINUSE (what the command turns into a clear message)', async (t) => {
  const first = await listen(server(t), { host: '127.0.0.1', port: 0 });
  const port = 'port' in first.address ? first.address.port : 0;
  await assert.rejects(listen(server(t), { host: '127.0.0.1', port }), { code: 'EADDRINUSE' });
});
