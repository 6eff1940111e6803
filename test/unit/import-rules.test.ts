// The layout's rules, read from the sources' own imports: core/ imports no other part; agent/
// imports only core/; the gateway (and any later part) reaches the agent only through its public
// agent/src/index.ts; cli/ is the one entry point, free to load each part's command; and no
// module reaches itself again through its imports, anywhere.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, existsSync } from 'node:fs';
import { dirname, join, normalize, relative } from 'node:path';

const ROOT = process.cwd();
const PARTS = ['core', 'agent', 'gateway', 'operator', 'cli'] as const;
/** Static imports and re-exports (`from '…'`), and dynamic `import('…')`. */
const SPECIFIER = /(?:\bfrom\s*|\bimport\s*\(\s*|^\s*import\s+)(['"])(\.{1,2}\/[^'"]+)\1/gm;

function sources(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return entry.name === 'node_modules' || entry.name === 'dist' ? [] : sources(path);
    return /\.ts$/.test(entry.name) && !entry.name.endsWith('.d.ts') ? [relative(ROOT, path)] : [];
  });
}

/** Every module of every part, with the project files it imports (relative specifiers resolved). */
function importGraph(): Map<string, string[]> {
  const graph = new Map<string, string[]>();
  for (const file of PARTS.flatMap((part) => sources(join(ROOT, part)))) {
    const text = readFileSync(file, 'utf8');
    const targets = [...text.matchAll(SPECIFIER)].map((match) => normalize(join(dirname(file), match[2]!)).replace(/\.js$/, '.ts'));
    graph.set(file, targets);
  }
  return graph;
}

const partOf = (file: string) => file.split('/')[0]!;

test('the import graph is read: every part that exists has modules, and every relative import names a file', () => {
  const graph = importGraph();
  for (const part of ['core', 'agent', 'gateway', 'cli']) {
    assert.ok([...graph.keys()].some((file) => partOf(file) === part), `no modules found under ${part}/`);
  }
  for (const [file, targets] of graph) {
    for (const target of targets) assert.ok(existsSync(target), `${file} imports ${target}, which does not exist`);
  }
});

test('core/ imports no other part; agent/ imports only core/', () => {
  const wrong: string[] = [];
  for (const [file, targets] of importGraph()) {
    const allowed = partOf(file) === 'core' ? ['core'] : partOf(file) === 'agent' ? ['agent', 'core'] : null;
    if (!allowed) continue;
    for (const target of targets) if (!allowed.includes(partOf(target))) wrong.push(`${file} -> ${target}`);
  }
  assert.deepEqual(wrong, []);
});

test('outside the entry point, other parts reach the agent only through agent/src/index.ts', () => {
  const wrong: string[] = [];
  for (const [file, targets] of importGraph()) {
    if (['agent', 'cli'].includes(partOf(file))) continue;
    for (const target of targets) if (partOf(target) === 'agent' && target !== 'agent/src/index.ts') wrong.push(`${file} -> ${target}`);
  }
  assert.deepEqual(wrong, []);
});

test('no part imports the entry point', () => {
  const wrong = [...importGraph()].flatMap(([file, targets]) => (partOf(file) === 'cli' ? [] : targets.filter((t) => partOf(t) === 'cli').map((t) => `${file} -> ${t}`)));
  assert.deepEqual(wrong, []);
});

test('no circle of imports anywhere (type-only and lazy imports included)', () => {
  const graph = importGraph();
  const state = new Map<string, 'open' | 'done'>();
  const circles: string[] = [];
  const visit = (file: string, path: string[]): void => {
    if (state.get(file) === 'done') return;
    if (state.get(file) === 'open') {
      circles.push([...path.slice(path.indexOf(file)), file].join(' -> '));
      return;
    }
    state.set(file, 'open');
    for (const target of graph.get(file) ?? []) visit(target, [...path, file]);
    state.set(file, 'done');
  };
  for (const file of graph.keys()) visit(file, []);
  assert.deepEqual(circles, []);
});
