#!/usr/bin/env node
// Builds the browser page into gateway/ui/dist (or `--out <dir>`): esbuild bundles app.ts with
// its CSS (ours and xterm's) into content-hashed files, index.html is written to reference them,
// every asset is precompressed (gzip level 9, brotli quality 11) so the gateway never compresses
// per request, and manifest.json lists each file with its size, strong ETag and content type.
// The gateway serves only what the manifest lists (gateway/src/http/static-assets.ts).
//
// Deterministic: the same sources give byte-identical output (esbuild is deterministic, gzip
// headers carry no mtime or name, the manifest is sorted), so a rebuild does not change ETags.
import { build } from 'esbuild';
import { createHash } from 'node:crypto';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { dirname, join, posix, relative, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { brotliCompress, constants as zlibConstants, gzip } from 'node:zlib';

const here = dirname(fileURLToPath(import.meta.url));
const srcDir = join(here, 'src');
export const defaultOutDir = join(here, 'dist');

const gzipAsync = promisify(gzip);
const brotliAsync = promisify(brotliCompress);

// Content types by extension: only what the build produces. Text types carry a charset so the
// browser never guesses (nosniff forbids guessing anyway).
const contentTypes = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.svg': 'image/svg+xml; charset=utf-8',
  '.txt': 'text/plain; charset=utf-8',
};

function contentTypeOf(path) {
  const type = contentTypes[posix.extname(path)];
  if (!type) throw new Error(`build: no content type for ${path}`);
  return type;
}

/** A strong ETag: the content's sha256, so equal bytes give equal tags across builds and replicas. */
function etagOf(bytes) {
  return `"${createHash('sha256').update(bytes).digest('base64url')}"`;
}

function shortHash(bytes) {
  return createHash('sha256').update(bytes).digest('hex').slice(0, 10);
}

/** Replaces `from` with `to` exactly once: a template that drifted from the build fails loudly. */
function replaceOnce(text, from, to) {
  const at = text.indexOf(from);
  if (at < 0 || text.indexOf(from, at + 1) >= 0) {
    throw new Error(`build: index.html must reference ${from} exactly once`);
  }
  return text.slice(0, at) + to + text.slice(at + from.length);
}

async function bundle() {
  const result = await build({
    absWorkingDir: here,
    entryPoints: { app: join(srcDir, 'app.ts') },
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: ['es2022', 'chrome110', 'firefox115', 'safari16'],
    minify: true,
    sourcemap: 'linked',
    // Source maps name files relative to the map, never the machine's absolute paths.
    sourcesContent: true,
    outdir: 'dist-virtual/assets',
    entryNames: '[name]-[hash]',
    assetNames: '[name]-[hash]',
    legalComments: 'eof',
    charset: 'utf8',
    metafile: false,
    write: false,
    logLevel: 'silent',
  });
  const virtualRoot = join(here, 'dist-virtual');
  return result.outputFiles.map((file) => ({
    path: relative(virtualRoot, file.path).split('\\').join('/'),
    bytes: Buffer.from(file.contents),
  }));
}

async function compress(bytes) {
  const [gz, br] = await Promise.all([
    gzipAsync(bytes, { level: 9 }),
    brotliAsync(bytes, {
      params: {
        [zlibConstants.BROTLI_PARAM_QUALITY]: zlibConstants.BROTLI_MAX_QUALITY,
        [zlibConstants.BROTLI_PARAM_SIZE_HINT]: bytes.byteLength,
      },
    }),
  ]);
  return { gz, br };
}

/**
 * Builds the page into `outDir` (emptied first, so no stale asset survives) and returns the
 * manifest it wrote.
 */
export async function buildUi({ outDir = defaultOutDir } = {}) {
  const bundled = await bundle();
  const pick = (ext) => {
    const found = bundled.filter((f) => f.path.endsWith(ext));
    if (found.length !== 1) throw new Error(`build: expected one ${ext} output, got ${found.length}`);
    return found[0].path;
  };

  const favicon = await readFile(join(srcDir, 'favicon.svg'));
  const faviconPath = `assets/favicon-${shortHash(favicon)}.svg`;

  let html = await readFile(join(srcDir, 'index.html'), 'utf8');
  html = replaceOnce(html, 'assets/app.js', pick('.js'));
  html = replaceOnce(html, 'assets/app.css', pick('.css'));
  html = replaceOnce(html, 'assets/favicon.svg', faviconPath);

  const files = [
    ...bundled.map((f) => ({ ...f, immutable: true })),
    { path: faviconPath, bytes: favicon, immutable: true },
    // index.html is the one file whose name cannot carry a hash: browsers revalidate it.
    { path: 'index.html', bytes: Buffer.from(html, 'utf8'), immutable: false },
  ].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));

  await rm(outDir, { recursive: true, force: true });
  const entries = await Promise.all(
    files.map(async ({ path, bytes, immutable }) => {
      const target = join(outDir, ...path.split('/'));
      await mkdir(dirname(target), { recursive: true });
      await writeFile(target, bytes);
      const entry = { path, size: bytes.byteLength, etag: etagOf(bytes), contentType: contentTypeOf(path), immutable };
      const variants = await compress(bytes);
      for (const encoding of ['gz', 'br']) {
        const encoded = variants[encoding];
        // A variant that is not smaller is useless (tiny files): the server then sends identity.
        if (encoded.byteLength >= bytes.byteLength) continue;
        await writeFile(`${target}.${encoding}`, encoded);
        entry[encoding] = { path: `${path}.${encoding}`, size: encoded.byteLength, etag: etagOf(encoded) };
      }
      return entry;
    }),
  );
  const manifest = { version: 1, files: entries };
  await writeFile(join(outDir, 'manifest.json'), `${JSON.stringify(manifest, null, 2)}\n`);
  return manifest;
}

function parseArgs(argv) {
  const options = {};
  for (let i = 0; i < argv.length; i += 1) {
    if (argv[i] === '--out' && argv[i + 1]) {
      options.outDir = resolve(argv[i + 1]);
      i += 1;
    } else {
      throw new Error(`build: unknown argument ${argv[i]} (usage: build.mjs [--out <dir>])`);
    }
  }
  return options;
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  const started = performance.now();
  const options = parseArgs(process.argv.slice(2));
  const manifest = await buildUi(options);
  const total = manifest.files.reduce((sum, f) => sum + f.size, 0);
  const ms = Math.round(performance.now() - started);
  console.log(`ui: ${manifest.files.length} files, ${(total / 1024).toFixed(0)} KiB, built in ${ms} ms → ${relative(process.cwd(), options.outDir ?? defaultOutDir) || '.'}`);
}
