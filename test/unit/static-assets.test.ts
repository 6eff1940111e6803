// The static-file plugin, against a fresh build of the page: content negotiation with the
// right bytes, revalidation, cache and security headers, HEAD, and that no request path can
// reach a file the manifest does not list.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import { brotliDecompressSync, gunzipSync } from 'node:zlib';
import { request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import fastify, { type FastifyInstance } from 'fastify';
import { CONTENT_SECURITY_POLICY, loadStaticAssets, negotiateEncoding, serveStaticFirst } from '../../gateway/src/http/static-assets.js';

const run = promisify(execFile);
const buildScript = join(import.meta.dirname, '../../gateway/ui/build.mjs');

interface Entry {
  path: string;
  size: number;
  etag: string;
  contentType: string;
  immutable: boolean;
  gz?: { path: string; etag: string };
  br?: { path: string; etag: string };
}

let work: string;
let root: string;
let manifest: { version: number; files: Entry[] };
let app: FastifyInstance;
let port: number;
let indexHtml: Buffer;
let appJs: Entry;

async function buildInto(dir: string): Promise<void> {
  await run(process.execPath, [buildScript, '--out', dir]);
}

before(async () => {
  work = await mkdtemp(join(tmpdir(), 'cloudterm-static-'));
  root = join(work, 'a');
  // Two builds at once: the second proves the build is deterministic (same bytes, same ETags).
  await Promise.all([buildInto(root), buildInto(join(work, 'b'))]);
  manifest = JSON.parse(await readFile(join(root, 'manifest.json'), 'utf8'));
  indexHtml = await readFile(join(root, 'index.html'));
  const js = manifest.files.find((f) => /^assets\/app-[A-Za-z0-9]+\.js$/.test(f.path));
  assert.ok(js, 'the build has a hashed app bundle');
  appJs = js;

  // The assets in front of a stand-in API whose not-found answer has the gateway's shape: what is
  // not a built file must go on to the API, never to the file system.
  app = fastify({ serverFactory: serveStaticFirst(await loadStaticAssets(root)) });
  app.get('/api/me', async () => ({ user: 'alice' }));
  app.get('/api/sessions/:id', async (request) => ({ id: (request.params as { id: string }).id }));
  app.setNotFoundHandler((_request, reply) => reply.code(404).send({ error: { code: 'not_found', message: 'not found' } }));
  await app.listen({ host: '127.0.0.1', port: 0 });
  const address = app.server.address();
  assert.ok(address && typeof address === 'object');
  port = address.port;
});

after(async () => {
  await app?.close();
  await rm(work, { recursive: true, force: true });
});

interface Answer {
  statusCode: number;
  headers: IncomingHttpHeaders;
  /** The bytes as sent (still compressed), which fetch() would have decoded. */
  rawPayload: Buffer;
  body: string;
  json(): unknown;
}

/** One request over a real connection, the path sent exactly as written. */
function send(method: string, path: string, headers: Record<string, string> = {}): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port, method, path, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => {
        const rawPayload = Buffer.concat(chunks);
        const body = rawPayload.toString('utf8');
        resolve({ statusCode: res.statusCode ?? 0, headers: res.headers, rawPayload, body, json: () => JSON.parse(body) });
      });
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

const get = (url: string, headers: Record<string, string> = {}) => send('GET', url, headers);

function assertSecurityHeaders(headers: Record<string, unknown>, what: string): void {
  assert.equal(headers['content-security-policy'], CONTENT_SECURITY_POLICY, `${what}: CSP`);
  assert.equal(headers['x-content-type-options'], 'nosniff', `${what}: nosniff`);
  assert.equal(headers['referrer-policy'], 'no-referrer', `${what}: referrer policy`);
  assert.equal(headers['x-frame-options'], 'DENY', `${what}: frame options`);
  assert.equal(headers['cross-origin-opener-policy'], 'same-origin', `${what}: COOP`);
}

function assertNotFound(response: Answer, what: string): void {
  assert.equal(response.statusCode, 404, `${what}: status`);
  assert.match(String(response.headers['content-type']), /^application\/json/, `${what}: JSON`);
  assert.deepEqual(response.json(), { error: { code: 'not_found', message: 'not found' } }, `${what}: body`);
}

describe('build', () => {
  test('is deterministic: two builds give the same files and ETags', async () => {
    const other = JSON.parse(await readFile(join(work, 'b', 'manifest.json'), 'utf8'));
    assert.deepEqual(other, manifest);
    for (const file of manifest.files) {
      assert.ok((await readFile(join(work, 'b', file.path))).equals(await readFile(join(root, file.path))), file.path);
    }
  });

  test('index.html references the hashed bundle, stylesheet and icon, and nothing inline', () => {
    const html = indexHtml.toString('utf8');
    const css = manifest.files.find((f) => /^assets\/app-[A-Za-z0-9]+\.css$/.test(f.path));
    assert.ok(css);
    assert.ok(html.includes(`src="${appJs.path}"`), 'script tag');
    assert.ok(html.includes(`href="${css.path}"`), 'stylesheet link');
    assert.match(html, /href="assets\/favicon-[0-9a-f]+\.svg"/);
    assert.doesNotMatch(html, /<style|\sstyle=|<script>|\son[a-z]+=/i, 'no inline style or script');
  });
});

describe('static assets', () => {
  test('serves index.html at / and /index.html, revalidated on every load', async () => {
    for (const url of ['/', '/index.html']) {
      const response = await get(url);
      assert.equal(response.statusCode, 200, url);
      assert.equal(response.headers['content-type'], 'text/html; charset=utf-8');
      assert.equal(response.headers['cache-control'], 'no-cache');
      assert.ok(response.rawPayload.equals(indexHtml), `${url} body`);
      assertSecurityHeaders(response.headers, url);
    }
  });

  test('hashed assets are cacheable forever, with their content type', async () => {
    for (const file of manifest.files.filter((f) => f.path.startsWith('assets/'))) {
      const response = await get(`/${file.path}`);
      assert.equal(response.statusCode, 200, file.path);
      assert.equal(response.headers['cache-control'], 'public, max-age=31536000, immutable', file.path);
      assert.equal(response.headers['content-type'], file.contentType, file.path);
      assert.equal(response.headers.etag, file.etag, file.path);
      assertSecurityHeaders(response.headers, file.path);
    }
    assert.equal((await get(`/${appJs.path}`)).headers['content-type'], 'text/javascript; charset=utf-8');
  });

  test('Accept-Encoding picks br, then gzip, then identity, and the bytes decode to the file', async () => {
    const original = await readFile(join(root, appJs.path));
    const cases: Array<[string | undefined, 'br' | 'gzip' | undefined]> = [
      ['gzip, deflate, br, zstd', 'br'],
      ['br', 'br'],
      ['gzip', 'gzip'],
      ['gzip, br;q=0', 'gzip'],
      ['br;q=0.5, gzip;q=0.9', 'gzip'],
      ['*', 'br'],
      ['deflate', undefined],
      ['identity', undefined],
      [undefined, undefined],
    ];
    for (const [accept, expected] of cases) {
      const response = await get(`/${appJs.path}`, accept === undefined ? {} : { 'accept-encoding': accept });
      assert.equal(response.statusCode, 200, String(accept));
      assert.equal(response.headers['content-encoding'], expected, `encoding for ${accept}`);
      assert.equal(response.headers.vary, 'Accept-Encoding', `vary for ${accept}`);
      const body = response.rawPayload;
      assert.equal(Number(response.headers['content-length']), body.byteLength);
      const decoded = expected === 'br' ? brotliDecompressSync(body) : expected === 'gzip' ? gunzipSync(body) : body;
      assert.ok(decoded.equals(original), `bytes for ${accept}`);
      if (expected) assert.ok(body.byteLength < original.byteLength, `${expected} is smaller`);
    }
  });

  test('each encoding has its own strong ETag, and If-None-Match answers 304 for it', async () => {
    const tags = new Set<string>();
    for (const accept of ['br', 'gzip', 'identity']) {
      const first = await get(`/${appJs.path}`, { 'accept-encoding': accept });
      const etag = String(first.headers.etag);
      assert.match(etag, /^"[A-Za-z0-9_-]{43}"$/, 'a strong sha256 ETag');
      tags.add(etag);
      for (const condition of [etag, `W/${etag}`, `"other", ${etag}`, '*']) {
        const again = await get(`/${appJs.path}`, { 'accept-encoding': accept, 'if-none-match': condition });
        assert.equal(again.statusCode, 304, `${accept} ${condition}`);
        assert.equal(again.rawPayload.byteLength, 0);
        assert.equal(again.headers.etag, etag);
        assert.equal(again.headers['cache-control'], 'public, max-age=31536000, immutable');
        assert.equal(again.headers.vary, 'Accept-Encoding');
        assertSecurityHeaders(again.headers, `304 ${accept}`);
      }
      const changed = await get(`/${appJs.path}`, { 'accept-encoding': accept, 'if-none-match': '"stale"' });
      assert.equal(changed.statusCode, 200);
    }
    assert.equal(tags.size, 3);
    const index = await get('/', { 'if-none-match': manifest.files.find((f) => f.path === 'index.html')!.etag });
    assert.equal(index.statusCode, 304);
    assert.equal(index.headers['cache-control'], 'no-cache');
  });

  test('HEAD answers the GET headers without a body', async () => {
    for (const accept of ['br', 'gzip', 'identity']) {
      const got = await get(`/${appJs.path}`, { 'accept-encoding': accept });
      const head = await send('HEAD', `/${appJs.path}`, { 'accept-encoding': accept });
      assert.equal(head.statusCode, 200);
      assert.equal(head.rawPayload.byteLength, 0);
      for (const name of ['content-type', 'content-length', 'content-encoding', 'etag', 'cache-control', 'vary', 'content-security-policy']) {
        assert.equal(head.headers[name], got.headers[name], `${accept}: ${name}`);
      }
    }
    const unknown = await send('HEAD', '/nothing-here');
    assert.equal(unknown.statusCode, 404);
    assert.equal(unknown.rawPayload.byteLength, 0);
  });

  test('unknown paths are not files: they go on to the API, which answers 404', async () => {
    for (const url of ['/nothing-here', '/assets/app.js', '/assets/', '/manifest.json', `/${appJs.path}/`, `//${appJs.path}`, '/index.htm']) {
      assertNotFound(await get(url), url);
    }
    for (const method of ['POST', 'PUT', 'DELETE']) assertNotFound(await send(method, '/index.html'), `${method} /index.html`);
  });

  test('a query string does not hide a file; API paths reach the API', async () => {
    const withQuery = await get('/index.html?v=2');
    assert.equal(withQuery.statusCode, 200);
    assert.ok(withQuery.rawPayload.equals(indexHtml));
    assert.deepEqual((await get('/api/me')).json(), { user: 'alice' });
    assert.deepEqual((await get('/api/sessions/s1')).json(), { id: 's1' });
    assertNotFound(await get('/api/unknown'), '/api/unknown');
  });

  test('path traversal in any spelling never reads outside the manifest', async () => {
    const secret = await readFile(join(import.meta.dirname, '../../package.json'), 'utf8');
    const attempts = [
      '/../package.json',
      '/../../../../etc/passwd',
      '/assets/../../package.json',
      '/assets/../manifest.json',
      '/%2e%2e/package.json',
      '/%2E%2E/%2E%2E/package.json',
      '/assets/%2e%2e/%2e%2e/package.json',
      '/..%2fpackage.json',
      '/assets/..%2f..%2fpackage.json',
      '/%2e%2e%2f%2e%2e%2fpackage.json',
      '/%252e%252e/package.json',
      '/%252e%252e%252fpackage.json',
      '/..%252f..%252fpackage.json',
      '/index.html%00',
      '/index.html%00.js',
      '/%00../package.json',
      '/assets/..\\..\\package.json',
      '/assets/..%5c..%5cpackage.json',
      '/.%2e/package.json',
      `/assets/${'../'.repeat(50)}etc/passwd`,
    ];
    for (const url of attempts) {
      const response = await get(url);
      assertNotFound(response, url);
      assert.ok(!response.body.includes('"devDependencies"'), `${url} leaked package.json`);
      assert.ok(!secret.includes(response.body), `${url} body`);
    }
    // Malformed escapes are refused by fastify's URL parser before routing: still never a file.
    for (const url of ['/%', '/%zz/package.json', '/..%c0%af..%c0%afpackage.json']) {
      const response = await get(url);
      assert.ok([400, 404].includes(response.statusCode), `${url}: ${response.statusCode}`);
      assert.ok(!response.body.includes('"devDependencies"'), `${url} leaked package.json`);
    }
  });
});

describe('negotiateEncoding', () => {
  const both = new Set(['br', 'gzip'] as const);
  test('honours q-values and exclusions', () => {
    assert.equal(negotiateEncoding('gzip;q=1, br;q=0.999', both), 'gzip');
    assert.equal(negotiateEncoding('BR, GZIP', both), 'br');
    assert.equal(negotiateEncoding('x-gzip', both), 'gzip');
    assert.equal(negotiateEncoding('br', new Set(['gzip'] as const)), 'identity');
    assert.equal(negotiateEncoding('*;q=0, gzip', both), 'gzip');
    assert.equal(negotiateEncoding('identity;q=0, *;q=0', both), 'identity');
    assert.equal(negotiateEncoding('', both), 'identity');
    assert.equal(negotiateEncoding('identity, gzip;q=0.5', both), 'identity');
  });
});

describe('startup', () => {
  async function fixture(files: Record<string, string>, entries: unknown[]): Promise<string> {
    const dir = await mkdtemp(join(work, 'fixture-'));
    for (const [path, content] of Object.entries(files)) {
      await mkdir(join(dir, path, '..'), { recursive: true });
      await writeFile(join(dir, path), content);
    }
    await writeFile(join(dir, 'manifest.json'), JSON.stringify({ version: 1, files: entries }));
    return dir;
  }

  async function refuses(root: string, message: RegExp): Promise<void> {
    await assert.rejects(loadStaticAssets(root), message);
  }

  test('refuses a missing build, naming the fix', async () => {
    await refuses(join(work, 'missing'), /npm run build/);
  });

  test('refuses a manifest entry outside the build directory', async () => {
    const index = manifest.files.find((f) => f.path === 'index.html')!;
    const dir = await fixture({ 'index.html': indexHtml.toString() }, [
      { ...index, gz: undefined, br: undefined },
      { path: '../package.json', size: 1, etag: '"x"', contentType: 'application/json', immutable: true },
    ]);
    await refuses(dir, /files\[1\]\.path is not a safe relative path/);
  });

  test('refuses files that do not match their ETag (a stale or torn build)', async () => {
    const index = manifest.files.find((f) => f.path === 'index.html')!;
    const dir = await fixture({ 'index.html': `${indexHtml.toString()}<!-- changed -->` }, [{ ...index, gz: undefined, br: undefined }]);
    await refuses(dir, /index\.html does not match manifest\.json/);
  });
});
