// Serves the browser page built by gateway/ui/build.mjs, from its manifest.
//
// Only files the manifest lists can be served: each gets its own exact route, and every other
// GET or HEAD falls to a catch-all that answers 404. No request path ever reaches the file
// system, so no spelling of `..` (encoded, double-encoded, with NUL bytes or backslashes) can
// read outside the build: path traversal is impossible by construction, not by filtering.
//
// The files are read once at startup and held in memory: the whole build is a few megabytes,
// requests then cost no system call, a deploy that rewrites the directory under a running
// gateway cannot serve a torn file, and the ETags are checked against the bytes actually
// served (a stale or half-copied build fails at startup instead of serving wrong caches).
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { HttpError } from '../errors.js';

export interface StaticAssetsOptions {
  /** The build's output directory, holding manifest.json (gateway/ui/dist). */
  root: string;
}

/**
 * The page loads only its own scripts and styles and talks only to its own origin (fetch and
 * the terminal WebSocket: CSP 3 'self' covers ws: and wss: to the same host). Styles allow
 * 'unsafe-inline' because xterm's DOM renderer inserts <style> elements for its theme and
 * cell sizes and has no nonce option; scripts stay strictly 'self', which is what stops XSS.
 */
export const CONTENT_SECURITY_POLICY = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self'",
  "font-src 'self'",
  "connect-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

/** Sent with every response of this plugin; the API may send the same (they are harmless on JSON). */
export const SECURITY_HEADERS: Readonly<Record<string, string>> = Object.freeze({
  'content-security-policy': CONTENT_SECURITY_POLICY,
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'x-frame-options': 'DENY',
  'cross-origin-opener-policy': 'same-origin',
  'cross-origin-resource-policy': 'same-origin',
});

const IMMUTABLE = 'public, max-age=31536000, immutable';
// index.html names the hashed assets of the current build: browsers must revalidate it (cheap,
// a 304 thanks to the ETag) so a deploy is picked up on the next load.
const REVALIDATE = 'no-cache';

type Encoding = 'br' | 'gzip' | 'identity';

/** Below any q-value a client can write (the smallest is 0.001): the fallback, never a choice. */
const IMPLICIT_IDENTITY_Q = 0.0001;

interface ManifestVariant {
  path: string;
  size: number;
  etag: string;
}

interface ManifestEntry extends ManifestVariant {
  contentType: string;
  immutable: boolean;
  gz?: ManifestVariant;
  br?: ManifestVariant;
}

interface Representation {
  body: Buffer;
  etag: string;
  headers: Readonly<Record<string, string>>;
}

type Asset = Partial<Record<Encoding, Representation>> & { identity: Representation };

// Paths as the build writes them: plain segments, no `.` or `..`, no backslash or NUL.
const SAFE_PATH = /^(?!.*(?:^|\/)\.{1,2}(?:\/|$))[A-Za-z0-9._-]+(?:\/[A-Za-z0-9._-]+)*$/;

class ManifestError extends Error {
  override readonly name = 'ManifestError';
}

function checkVariant(value: unknown, where: string): ManifestVariant {
  const v = value as Partial<ManifestVariant> | null;
  if (typeof v !== 'object' || v === null) throw new ManifestError(`${where} is not an object`);
  if (typeof v.path !== 'string' || !SAFE_PATH.test(v.path)) throw new ManifestError(`${where}.path is not a safe relative path`);
  if (typeof v.size !== 'number' || !Number.isSafeInteger(v.size) || v.size < 0) throw new ManifestError(`${where}.size is not a size`);
  if (typeof v.etag !== 'string' || !/^"[^"]+"$/.test(v.etag)) throw new ManifestError(`${where}.etag is not a strong ETag`);
  return { path: v.path, size: v.size, etag: v.etag };
}

function checkEntry(value: unknown, index: number): ManifestEntry {
  const where = `files[${index}]`;
  const base = checkVariant(value, where);
  const e = value as Partial<ManifestEntry>;
  if (typeof e.contentType !== 'string' || e.contentType === '') throw new ManifestError(`${where}.contentType is missing`);
  if (typeof e.immutable !== 'boolean') throw new ManifestError(`${where}.immutable is not a boolean`);
  return {
    ...base,
    contentType: e.contentType,
    immutable: e.immutable,
    ...(e.gz === undefined ? {} : { gz: checkVariant(e.gz, `${where}.gz`) }),
    ...(e.br === undefined ? {} : { br: checkVariant(e.br, `${where}.br`) }),
  };
}

function etagOf(bytes: Buffer): string {
  return `"${createHash('sha256').update(bytes).digest('base64url')}"`;
}

async function readVariant(root: string, variant: ManifestVariant): Promise<Buffer> {
  const body = await readFile(join(root, ...variant.path.split('/')));
  if (body.byteLength !== variant.size || etagOf(body) !== variant.etag) {
    throw new ManifestError(`${variant.path} does not match manifest.json: rebuild the page (npm run build)`);
  }
  return body;
}

async function loadManifest(root: string): Promise<Map<string, Asset>> {
  let parsed: { version?: unknown; files?: unknown };
  try {
    parsed = JSON.parse(await readFile(join(root, 'manifest.json'), 'utf8')) as typeof parsed;
  } catch (error) {
    throw new ManifestError(`cannot read ${join(root, 'manifest.json')}: ${(error as Error).message} (build the page with npm run build)`);
  }
  if (parsed.version !== 1 || !Array.isArray(parsed.files)) throw new ManifestError('manifest.json is not a version 1 manifest');
  const entries = parsed.files.map(checkEntry);

  const assets = new Map<string, Asset>();
  await Promise.all(
    entries.map(async (entry) => {
      const common = {
        'content-type': entry.contentType,
        'cache-control': entry.immutable ? IMMUTABLE : REVALIDATE,
        vary: 'Accept-Encoding',
        ...SECURITY_HEADERS,
      };
      const represent = async (variant: ManifestVariant, encoding: Encoding): Promise<Representation> => ({
        body: await readVariant(root, variant),
        etag: variant.etag,
        headers: { ...common, etag: variant.etag, ...(encoding === 'identity' ? {} : { 'content-encoding': encoding }) },
      });
      const asset: Asset = { identity: await represent(entry, 'identity') };
      if (entry.gz) asset.gzip = await represent(entry.gz, 'gzip');
      if (entry.br) asset.br = await represent(entry.br, 'br');
      assets.set(`/${entry.path}`, asset);
    }),
  );
  if (!assets.has('/index.html')) throw new ManifestError('manifest.json lists no index.html');
  return assets;
}

/**
 * Picks the encoding from Accept-Encoding: the highest q-value among those available, ties
 * going to the smallest (br, then gzip, then identity). Identity not named by the client is
 * acceptable but least preferred (a client listing `br;q=0.5` still wants br over raw bytes);
 * if nothing is acceptable identity is sent anyway, as RFC 9110 allows, rather than a 406.
 */
export function negotiateEncoding(header: string | undefined, available: ReadonlySet<Encoding>): Encoding {
  if (!header) return 'identity';
  const q = new Map<string, number>();
  for (const part of header.split(',')) {
    const [rawName, ...params] = part.split(';');
    const name = rawName?.trim().toLowerCase();
    if (!name) continue;
    let quality = 1;
    for (const param of params) {
      const match = /^\s*q\s*=\s*([01](?:\.\d{0,3})?)\s*$/i.exec(param);
      if (match?.[1]) quality = Math.min(1, Number(match[1]));
    }
    q.set(name === 'x-gzip' ? 'gzip' : name, quality);
  }
  const wildcard = q.get('*');
  const qualityOf = (encoding: Encoding) => q.get(encoding) ?? wildcard ?? (encoding === 'identity' ? IMPLICIT_IDENTITY_Q : 0);
  let best: Encoding = 'identity';
  let bestQ = 0;
  for (const encoding of ['br', 'gzip', 'identity'] as const) {
    if (encoding !== 'identity' && !available.has(encoding)) continue;
    const quality = qualityOf(encoding);
    if (quality > bestQ) {
      best = encoding;
      bestQ = quality;
    }
  }
  return best;
}

/** If-None-Match uses the weak comparison (RFC 9110 13.1.2): `W/` is ignored. */
function matchesIfNoneMatch(header: string | undefined, etag: string): boolean {
  if (!header) return false;
  if (header.trim() === '*') return true;
  return header.split(',').some((tag) => tag.trim().replace(/^W\//, '') === etag);
}

function sendAsset(asset: Asset, available: ReadonlySet<Encoding>, request: FastifyRequest, reply: FastifyReply): FastifyReply {
  const encoding = negotiateEncoding(request.headers['accept-encoding'], available);
  const chosen = asset[encoding] ?? asset.identity;
  reply.headers(chosen.headers);
  if (matchesIfNoneMatch(request.headers['if-none-match'], chosen.etag)) {
    reply.removeHeader('content-type');
    reply.removeHeader('content-encoding');
    return reply.code(304).send();
  }
  return reply.code(200).send(chosen.body);
}

function notFound(_request: FastifyRequest, reply: FastifyReply): FastifyReply {
  return reply
    .code(404)
    .headers(SECURITY_HEADERS)
    .header('cache-control', 'no-store')
    .type('application/json; charset=utf-8')
    .send(new HttpError('not_found').toJSON());
}

/**
 * Registers `/`, one route per built file, and a GET/HEAD catch-all that answers 404 JSON.
 * The catch-all never shadows the API: the router always prefers static and parametric routes
 * (`/api/...`) over a wildcard. Other methods on unknown paths go to fastify's not-found handler.
 */
export async function staticAssets(app: FastifyInstance, options: StaticAssetsOptions): Promise<void> {
  if (typeof options?.root !== 'string' || options.root === '') {
    throw new TypeError('staticAssets: options.root must be the directory holding manifest.json');
  }
  const assets = await loadManifest(options.root);
  // HEAD is listed explicitly so it works whatever the app's exposeHeadRoutes says; Node's
  // HTTP server sends no body for HEAD but keeps the Content-Length of the GET.
  const methods = ['GET', 'HEAD'];
  for (const [url, asset] of assets) {
    const available = new Set((['br', 'gzip'] as const).filter((encoding) => asset[encoding]));
    const handler = (request: FastifyRequest, reply: FastifyReply) => sendAsset(asset, available, request, reply);
    app.route({ method: methods, url, handler });
    if (url === '/index.html') app.route({ method: methods, url: '/', handler });
  }
  app.route({ method: methods, url: '/*', handler: notFound });
}
