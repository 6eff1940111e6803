// The real kubectl and helm, each call with a discovery cache of its own (a shared one would let
// one test see another's stale discovery).
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { kubeTools } from './binaries.js';

/** A kubeconfig file, or anything that has one (a ControlPlane, an Identity). */
export type KubeconfigRef = string | { readonly kubeconfigPath: string };

export interface ToolOptions {
  readonly kubeconfig: KubeconfigRef;
  /** Written to the tool's stdin (a manifest for `apply -f -`). */
  readonly input?: string;
  /** Resolve with a non-zero exit instead of rejecting (for commands expected to fail). */
  readonly allowFailure?: boolean;
  readonly timeoutMs?: number;
}

export interface ToolResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

const pathOf = (ref: KubeconfigRef) => (typeof ref === 'string' ? ref : ref.kubeconfigPath);

async function runTool(binary: string, args: readonly string[], extra: readonly string[], options: ToolOptions, cacheDir: string): Promise<ToolResult> {
  const child = spawn(binary, [...extra, ...args], {
    env: { PATH: '/usr/local/bin:/usr/bin:/bin', HOME: cacheDir, KUBECONFIG: pathOf(options.kubeconfig), HELM_CACHE_HOME: join(cacheDir, 'helm-cache'), HELM_CONFIG_HOME: join(cacheDir, 'helm-config'), HELM_DATA_HOME: join(cacheDir, 'helm-data') },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  child.stdin.end(options.input ?? '');
  const timeoutMs = options.timeoutMs ?? 60_000;
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  const code = await new Promise<number>((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (exitCode, signal) => resolve(exitCode ?? (signal ? 128 : 1)));
  }).finally(() => clearTimeout(timer));
  const name = binary.split('/').pop();
  if (code !== 0 && !options.allowFailure) {
    throw new Error(`${name} ${args.join(' ')} exited with ${code}:\n${stderr.trim() || stdout.trim()}`);
  }
  return { code, stdout, stderr };
}

async function withCache<T>(use: (cacheDir: string) => Promise<T>): Promise<T> {
  const cacheDir = await mkdtemp(join(tmpdir(), 'cloudterm-kubectl-'));
  try {
    return await use(cacheDir);
  } finally {
    await rm(cacheDir, { recursive: true, force: true });
  }
}

/** Runs the real kubectl 1.31; rejects on a non-zero exit with its stderr. */
export async function kubectl(args: readonly string[], options: ToolOptions): Promise<ToolResult> {
  const { kubectl: binary } = await kubeTools();
  return withCache((cacheDir) => runTool(binary, args, ['--cache-dir', join(cacheDir, 'kube')], options, cacheDir));
}

/** Runs the real helm 3.17 (its caches in a fresh folder). */
export async function helm(args: readonly string[], options: ToolOptions): Promise<ToolResult> {
  const { helm: binary } = await kubeTools();
  return withCache((cacheDir) => runTool(binary, args, [], options, cacheDir));
}

/** A long-running kubectl (`get -w`): the caller reads its output and kills it. */
export async function spawnKubectl(args: readonly string[], options: Pick<ToolOptions, 'kubeconfig'>): Promise<ChildProcess> {
  const { kubectl: binary } = await kubeTools();
  const cacheDir = await mkdtemp(join(tmpdir(), 'cloudterm-kubectl-'));
  const child = spawn(binary, ['--cache-dir', join(cacheDir, 'kube'), ...args], {
    env: { PATH: '/usr/local/bin:/usr/bin:/bin', HOME: cacheDir, KUBECONFIG: pathOf(options.kubeconfig) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.once('close', () => rmSync(cacheDir, { recursive: true, force: true }));
  return child;
}
