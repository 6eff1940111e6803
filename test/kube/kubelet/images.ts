// The images the rig's kubelet can run, as local programs: CloudTerm's own image as the built
// `cloudterm` (node + package.json's bin), Redis's as the local redis-server. Any other image is
// "not found", so its pod waits in ErrImagePull/ImagePullBackOff as on a real node.
import { existsSync, readFileSync } from 'node:fs';
import { basename, resolve } from 'node:path';
import type { V1Container } from '@kubernetes/client-node';
import { REPO_ROOT } from '../rig-config.js';

export const CLOUDTERM_IMAGE = 'ghcr.io/cloudterm/cloudterm';
export const REDIS_IMAGE = 'docker.io/library/redis';
const REDIS_SERVER = '/usr/bin/redis-server';

/** What to execute for a container; `argv[0]` is an absolute path. */
export interface ContainerProgram {
  readonly argv: readonly string[];
  readonly kind: 'cloudterm' | 'redis';
}

export class ImageError extends Error {
  override readonly name = 'ImageError';
}

/** `redis`, `library/redis:7`, `docker.io/library/redis@sha256:…` → `docker.io/library/redis`. */
export function imageRepository(image: string): string {
  let name = image.split('@')[0]!;
  const lastSlash = name.lastIndexOf('/');
  const colon = name.lastIndexOf(':');
  if (colon > lastSlash) name = name.slice(0, colon);
  const parts = name.split('/');
  const hasRegistry = parts.length > 1 && /[.:]|^localhost$/.test(parts[0]!);
  if (!hasRegistry) parts.unshift('docker.io');
  if (parts[0] === 'docker.io' && parts.length === 2) parts.splice(1, 0, 'library');
  return parts.join('/');
}

let cloudtermBin: string | undefined;

/** The built `cloudterm`: package.json's `bin.cloudterm`, read each start (the layout moves). */
export function cloudtermEntry(): string {
  if (cloudtermBin) return cloudtermBin;
  const manifest = JSON.parse(readFileSync(resolve(REPO_ROOT, 'package.json'), 'utf8')) as { bin?: Record<string, string> };
  const bin = manifest.bin?.cloudterm;
  if (!bin) throw new ImageError('package.json has no bin.cloudterm');
  const path = resolve(REPO_ROOT, bin);
  if (!existsSync(path)) throw new ImageError(`${path} does not exist: build CloudTerm first (npm run build)`);
  cloudtermBin = path;
  return path;
}

/**
 * The argv of a container, as a container runtime computes it: `command` replaces the image's
 * entrypoint, `args` its default arguments. Variables are expanded by the caller.
 */
export function containerProgram(container: V1Container, execPath: string): ContainerProgram {
  const repository = imageRepository(container.image ?? '');
  const command = container.command ?? [];
  const args = container.args ?? [];
  if (repository === CLOUDTERM_IMAGE) {
    // The image's entrypoint is `cloudterm`; a command naming it (by any path) is the same program.
    const rest = command.length > 0 ? (basename(command[0]!) === 'cloudterm' ? [...command.slice(1), ...args] : null) : args;
    if (rest === null) throw new ImageError(`${container.image}: the rig runs only the cloudterm entrypoint, not ${JSON.stringify(command[0])}`);
    return { kind: 'cloudterm', argv: [execPath, cloudtermEntry(), ...rest] };
  }
  if (repository === REDIS_IMAGE) {
    // The image's entrypoint passes `redis-server …` through and prefixes bare flags with it.
    const words = [...command, ...args];
    const rest = words.length > 0 && basename(words[0]!) === 'redis-server' ? words.slice(1) : words;
    if (!existsSync(REDIS_SERVER)) throw new ImageError(`${container.image} runs as ${REDIS_SERVER}: install redis-server`);
    return { kind: 'redis', argv: [REDIS_SERVER, ...rest] };
  }
  throw new ImageError(`pull access denied for ${container.image}: the rig runs only ${CLOUDTERM_IMAGE} and ${REDIS_IMAGE} images`);
}

/**
 * Pods share one network namespace here, so a program must listen on its pod's own address:
 * a wildcard or default listen address of the images the rig knows becomes the pod IP (what a
 * pod's own network namespace gives it for free on a real node). Rewrites `env` in place.
 */
export function bindToPodIp(program: ContainerProgram, podIp: string, env: Record<string, string>): readonly string[] {
  const argv = [...program.argv];
  if (program.kind === 'redis') {
    if (!argv.includes('--bind')) argv.push('--bind', podIp);
    return argv;
  }
  const wildcard = (value: string) => value.replace(/^(?:0\.0\.0\.0|\[::\]|\*)?:(\d+)$/, `${podIp}:$1`).replace(/^(\d+)$/, `${podIp}:$1`);
  let listenGiven = false;
  for (let index = 0; index < argv.length; index += 1) {
    const word = argv[index]!;
    if (word === '--') break;
    if (word === '--listen' && index + 1 < argv.length) {
      argv[index + 1] = wildcard(argv[index + 1]!);
      listenGiven = true;
    } else if (word.startsWith('--listen=')) {
      argv[index] = `--listen=${wildcard(word.slice('--listen='.length))}`;
      listenGiven = true;
    }
  }
  if (env.CLOUDTERM_AGENT_LISTEN !== undefined) {
    env.CLOUDTERM_AGENT_LISTEN = wildcard(env.CLOUDTERM_AGENT_LISTEN);
  } else if (!listenGiven && argv[2] === 'agent') {
    argv.splice(3, 0, '--listen', `${podIp}:7681`);
  }
  return argv;
}
