// The kubelet as a program refuses what it cannot do, with a message that says why, before it
// touches a cluster: bad flags (exit 2 and the usage), no root for a full kubelet (exit 1: a mount
// namespace per pod needs it), and a state folder another running kubelet owns (exit 1).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { chmod, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const MAIN = fileURLToPath(new URL('../../kube/kubelet/main.ts', import.meta.url));
/** Never contacted: every refusal comes before the first request. */
const KUBECONFIG = `apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: 'https://127.0.0.1:1'}}]
users: [{name: u, user: {token: unused}}]
contexts: [{name: x, context: {cluster: c, user: u}}]
current-context: x
`;

interface Ended {
  readonly code: number | null;
  readonly stderr: string;
}

function runKubelet(args: readonly string[], asUser?: number): Promise<Ended> {
  const command = [process.execPath, '--import', 'tsx', MAIN, ...args];
  const argv = asUser === undefined ? command : ['setpriv', `--reuid=${asUser}`, `--regid=${asUser}`, '--clear-groups', ...command];
  const child = spawn(argv[0]!, argv.slice(1), { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  return new Promise((resolve) => child.on('close', (code) => resolve({ code, stderr })));
}

async function scratch(t: { after: (fn: () => Promise<void>) => void }): Promise<{ dir: string; kubeconfig: string }> {
  const dir = await mkdtemp(join(tmpdir(), 'cloudterm-kubelet-errors-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  await chmod(dir, 0o755);
  const kubeconfig = join(dir, 'kubeconfig.yaml');
  await writeFile(kubeconfig, KUBECONFIG, { mode: 0o644 });
  return { dir, kubeconfig };
}

test('bad flags: exit 2, what is wrong and the usage', async (t) => {
  const { kubeconfig } = await scratch(t);
  const ended = await runKubelet(['--kubeconfig', kubeconfig, '--max-pods', 'many', '--node-name', 'Not_A_Name']);
  assert.equal(ended.code, 2);
  assert.match(ended.stderr, /--max-pods must be a positive integer, not many/);
  assert.match(ended.stderr, /--node-name Not_A_Name: not a valid node name/);
  assert.match(ended.stderr, /^usage: kubelet --kubeconfig FILE/m);
});

test('not root and not --light: exit 1, saying that a mount namespace per pod needs root', async (t) => {
  const { dir, kubeconfig } = await scratch(t);
  const ended = await runKubelet(['--kubeconfig', kubeconfig, '--state-dir', join(dir, 'state')], 65534);
  assert.equal(ended.code, 1, ended.stderr);
  assert.match(ended.stderr, /^kubelet: the rig kubelet runs each pod in a mount namespace of its own \(unshare -m, bind mounts\), which needs root: run it as root, or with --light/m);
});

test('a state folder a running kubelet owns: exit 1, naming its PID', async (t) => {
  const { dir, kubeconfig } = await scratch(t);
  const stateDir = join(dir, 'state');
  // This (running) process stands for the kubelet that claimed the folder.
  await mkdir(stateDir);
  await writeFile(join(stateDir, 'kubelet.pid'), String(process.pid));
  const ended = await runKubelet(['--kubeconfig', kubeconfig, '--state-dir', stateDir, '--light']);
  assert.equal(ended.code, 1, ended.stderr);
  assert.equal(ended.stderr.trim(), `kubelet: another kubelet (PID ${process.pid}) uses the state folder ${stateDir}`);
});
