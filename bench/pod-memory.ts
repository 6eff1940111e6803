// `npm run bench -- pod-memory`: the memory of one idle terminal, agent and shell, as a pod's
// cgroup would charge it. The agent is started from the built CLI with the operator's own launch
// contract (agentArgs, as desired/pod.ts writes it into the pod), a client attaches, sees the
// prompt and leaves, and after --settle seconds of idleness each process's private anonymous
// memory is read from /proc/PID/smaps_rollup — the `node` binary's pages, which every pod on a
// node shares through the page cache, are file pages and not in it.
import { readFileSync, readdirSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir, cpus } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { agentArgs } from '../agent/src/index.js';
import { generateSigningKeyPair, signAttachToken } from '../core/src/index.js';
import { TestClient } from '../test/helpers/agent-client.js';
import { freePort, sleep, startProcess, waitForPort } from './lib/processes.js';

const REPO = new URL('../', import.meta.url).pathname;

interface Rollup {
  readonly rss: number;
  readonly pss: number;
  readonly anonymous: number;
}

/** Fields of /proc/PID/smaps_rollup, in KiB. */
function rollup(pid: number): Rollup {
  const text = readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8');
  const field = (name: string) => Number(new RegExp(`^${name}:\\s+(\\d+) kB$`, 'm').exec(text)?.[1] ?? NaN);
  return { rss: field('Rss'), pss: field('Pss'), anonymous: field('Anonymous') };
}

/** `pid`'s descendants (the shell node-pty started, and anything it runs). */
function descendants(pid: number): number[] {
  const parents = new Map<number, number[]>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      parents.set(ppid, [...(parents.get(ppid) ?? []), Number(entry)]);
    } catch {
      // gone meanwhile
    }
  }
  const out: number[] = [];
  const walk = (p: number) => {
    for (const child of parents.get(p) ?? []) {
      out.push(child);
      walk(child);
    }
  };
  walk(pid);
  return out;
}

const name = (pid: number) => readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
const mb = (kib: number) => (kib / 1024).toFixed(1);

export async function run(argv: readonly string[]): Promise<number> {
  const { values } = parseArgs({
    args: [...argv],
    options: { settle: { type: 'string', default: '10' }, runs: { type: 'string', default: '3' }, 'agent-node-flags': { type: 'string', default: '' }, 'agent-env': { type: 'string', default: '' }, command: { type: 'string' } },
  });
  const work = await mkdtemp(join(tmpdir(), 'cloudterm-pod-memory-'));
  try {
    const keys = await generateSigningKeyPair();
    const publicKeyFile = join(work, 'public.pem');
    await writeFile(publicKeyFile, keys.publicKeyPem);
    const flags = values['agent-node-flags']!.split(' ').filter(Boolean);
    // NAME=value,… for the agent's environment (what a pod's env would set).
    const extraEnv = Object.fromEntries(values['agent-env']!.split(',').filter(Boolean).map((pair) => pair.split('=', 2) as [string, string]));
    const totals: number[] = [];
    for (let round = 0; round < Number(values.runs); round += 1) {
      const port = await freePort();
      const args = agentArgs({ listen: { host: '127.0.0.1', port }, sessionId: 'bench', publicKeyFile, cols: 100, rows: 30, cwd: work, record: undefined, command: values.command ? values.command.split(' ') : undefined });
      const agent = startProcess(process.execPath, [...flags, join(REPO, 'dist/cli/src/main.js'), 'agent', ...args], { cwd: work, env: { PATH: process.env.PATH, HOME: work, LANG: 'C.UTF-8', ...extraEnv }, name: 'agent' });
      try {
        await waitForPort(port, 15_000, agent);
        const token = await signAttachToken(keys.privateKey, { sessionId: 'bench', user: 'bench', role: 'rw' }, 60);
        const client = await TestClient.connect({ url: `ws://127.0.0.1:${port}/attach`, headers: { authorization: `Bearer ${token}` } });
        await client.waitFor(() => client.output().length > 0, 'the first prompt', 10_000);
        await client.close();
        await sleep(Number(values.settle) * 1000);
        const pids = [agent.pid, ...descendants(agent.pid)];
        let total = 0;
        const parts = pids.map((pid) => {
          const r = rollup(pid);
          total += r.anonymous;
          return `${name(pid)} ${mb(r.anonymous)} MiB anonymous (RSS ${mb(r.rss)}, PSS ${mb(r.pss)})`;
        });
        totals.push(total);
        process.stdout.write(`run ${round + 1}: ${parts.join('; ')}; together ${mb(total)} MiB = ${((total * 1024) / 1e6).toFixed(1)} MB anonymous\n`);
      } finally {
        await agent.stop();
      }
    }
    const sorted = [...totals].sort((a, b) => a - b);
    process.stdout.write(`idle terminal (agent + shell), ${totals.length} runs, ${values.settle} s idle: anonymous ${sorted.map(mb).join(', ')} MiB (max ${((sorted.at(-1)! * 1024) / 1e6).toFixed(1)} MB); node flags: ${flags.join(' ') || 'none'}; env: ${values['agent-env'] || 'none'}; ${cpus().length} × ${cpus()[0]?.model ?? '?'}, Node ${process.version}\n`);
    return 0;
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}
