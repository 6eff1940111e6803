// Serves the browser page built by gateway/ui/build.mjs, from its manifest.
//
// Only files the manifest lists can be served, by exact path lookup; every other request goes on
// to the API (fastify), whose not-found handler answers 404 JSON. No request path ever reaches
// the file system, so no spelling of `..` (encoded, double-encoded, with NUL bytes or
// backslashes) can read outside the build: path traversal is impossible by construction, not by
// filtering.
//
// The files are read once at startup and held in memory: the whole build is a few megabytes,
// requests then cost no system call, a deploy that rewrites the directory under a running
// gateway cannot serve a torn file, and the ETags are checked against the bytes actually
// served (a stale or half-copied build fails at startup instead of serving wrong caches).
//
// Assets are answered on the raw HTTP server, before fastify sees the request: with every header
// computed at startup an answer is one lookup and one write, and twice the requests per second
// of the same answer through fastify's routing, hooks and reply (docs/benchmarks.md).
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createServer, type IncomingMessage, type RequestListener, type ServerOptions, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { FastifyServerFactory } from 'fastify';
import type { TlsMaterial } from './tls.js';

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

/** Sent with every asset; the API sends the same (they are harmless on JSON). */
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
/** Accept-Encoding values whose choice a file remembers. */
const MAX_REMEMBERED_CHOICES = 256;

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
  /** Flat [name, value, …] lists, as ServerResponse.writeHead takes them: for a 200 and a 304. */
  fullHeaders: readonly string[];
  notModifiedHeaders: readonly string[];
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
        'cache-control': entry.immutable ? IMMUTABLE : REVALIDATE,
        vary: 'Accept-Encoding',
        ...SECURITY_HEADERS,
      };
      const represent = async (variant: ManifestVariant, encoding: Encoding): Promise<Representation> => {
        const body = await readVariant(root, variant);
        // A 304 carries the validators and caching headers of the 200 it stands for, not its
        // content headers (RFC 9110 15.4.5).
        const notModified = { ...common, etag: variant.etag };
        const full = {
          ...notModified,
          'content-type': entry.contentType,
          ...(encoding === 'identity' ? {} : { 'content-encoding': encoding }),
          'content-length': String(body.byteLength),
        };
        return { body, etag: variant.etag, fullHeaders: Object.entries(full).flat(), notModifiedHeaders: Object.entries(notModified).flat() };
      };
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

/**
 * One file's encodings and the choice among them for each Accept-Encoding value. Browsers send a
 * handful of distinct values, so a choice is parsed once and then looked up; the memory is bounded
 * (cleared when full) so that clients sending endless distinct values cannot grow it.
 */
class Route {
  private readonly available: ReadonlySet<Encoding>;
  private readonly chosen = new Map<string, Encoding>();

  constructor(readonly asset: Asset) {
    this.available = new Set((['br', 'gzip'] as const).filter((encoding) => asset[encoding]));
  }

  representation(acceptEncoding: string | undefined): Representation {
    const header = acceptEncoding ?? '';
    let encoding = this.chosen.get(header);
    if (encoding === undefined) {
      encoding = negotiateEncoding(header, this.available);
      if (this.chosen.size >= MAX_REMEMBERED_CHOICES) this.chosen.clear();
      this.chosen.set(header, encoding);
    }
    return this.asset[encoding] ?? this.asset.identity;
  }
}

export interface StaticAssets {
  /** Answers a GET or HEAD of a built file and returns true; returns false for anything else. */
  serve(request: IncomingMessage, response: ServerResponse): boolean;
}

/** Loads and checks the build in `root` (the directory holding manifest.json: gateway/ui/dist). */
export async function loadStaticAssets(root: string): Promise<StaticAssets> {
  if (typeof root !== 'string' || root === '') throw new TypeError('loadStaticAssets: root must be the directory holding manifest.json');
  const assets = await loadManifest(root);
  const routes = new Map<string, Route>();
  for (const [path, asset] of assets) {
    const route = new Route(asset);
    routes.set(path, route);
    if (path === '/index.html') routes.set('/', route);
  }
  return {
    serve(request, response) {
      if (request.method !== 'GET' && request.method !== 'HEAD') return false;
      const url = request.url ?? '';
      const query = url.indexOf('?');
      const route = routes.get(query === -1 ? url : url.slice(0, query));
      if (!route) return false;
      const chosen = route.representation(request.headers['accept-encoding']);
      if (matchesIfNoneMatch(request.headers['if-none-match'], chosen.etag)) {
        response.writeHead(304, chosen.notModifiedHeaders as string[]);
        response.end();
      } else {
        response.writeHead(200, chosen.fullHeaders as string[]);
        // Node sends no body for HEAD; the Content-Length of the GET stays.
        response.end(request.method === 'HEAD' ? undefined : chosen.body);
      }
      return true;
    },
  };
}

/**
 * A fastify `serverFactory`: the HTTP server answers built files itself and hands every other
 * request to fastify. Configured as fastify configures its own server (header size limit,
 * keep-alive, request and connection timeouts), since fastify does not touch a server it is given.
 * With `tls` it is an HTTPS server.
 */
/** `hostServed`: a request for another Host goes on to fastify, which refuses it (421). */
export function serveStaticFirst(assets: StaticAssets | null, tls: TlsMaterial | null = null, hostServed: (host: string | undefined) => boolean = () => true): FastifyServerFactory {
  return (handler, options) => {
    const listener: RequestListener = assets
      ? (request, response) => (hostServed(request.headers.host) && assets.serve(request, response)) || handler(request, response)
      : handler;
    const serverOptions = (options.http ?? {}) as ServerOptions;
    const server = tls ? createHttpsServer({ ...serverOptions, cert: tls.cert, key: tls.key }, listener) : createServer(serverOptions, listener);
    server.keepAliveTimeout = options.keepAliveTimeout as number;
    server.requestTimeout = options.requestTimeout as number;
    server.setTimeout(options.connectionTimeout as number);
    return server;
  };
}
