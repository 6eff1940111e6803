// `npm run bench -- NAME [options]`: runs one benchmark of bench/.
const benchmarks: Record<string, () => Promise<{ run(argv: readonly string[]): Promise<number> }>> = {
  agent: () => import('./agent.js'),
  'ws-floor': () => import('./ws-floor.js'),
  gateway: () => import('./gateway.js'),
  soak: () => import('./soak.js'),
  client: () => import('./client.js'),
  operator: () => import('./operator.js'),
  kube: () => import('./kube-rig.js'),
  terminals: () => import('./terminals.js'),
  deflate: () => import('./deflate.js'),
  'pod-memory': () => import('./pod-memory.js'),
};

const [name = 'agent', ...rest] = process.argv.slice(2);
const load = benchmarks[name];
if (!load) {
  process.stderr.write(`unknown benchmark ${name}; there are: ${Object.keys(benchmarks).join(', ')}\n`);
  process.exitCode = 2;
} else {
  load()
    .then((bench) => bench.run(rest))
    .then(
      (code) => {
        process.exitCode = code;
      },
      (error: unknown) => {
        process.stderr.write(`bench ${name}: ${error instanceof Error ? error.stack ?? error.message : String(error)}\n`);
        process.exitCode = 1;
      },
    );
}
