// Turns a pod's container into a sandboxed process: the program its image stands for, its
// environment and expanded arguments, its volumes at their mount paths, its user, groups and
// security settings. Whatever cannot be honoured is an error the pod's status reports
// (ErrImagePull, CreateContainerConfigError), never something silently ignored.
import { existsSync, readFileSync, realpathSync, statSync } from 'node:fs';
import { chmod, chown, mkdir, writeFile, appendFile } from 'node:fs/promises';
import { dirname, join, relative } from 'node:path';
import type { V1Container, V1Pod } from '@kubernetes/client-node';
import { bindToPodIp, containerProgram } from './images.js';
import { ConfigError, containerEnvironment, expand, type ApiServerAddress, type ObjectReader } from './pod-environment.js';
import { spawnSandboxed, type Mount, type Spawned } from './sandbox.js';
import type { VolumeSource } from './volumes.js';
import { REPO_ROOT } from '../rig-config.js';

/** Where a CloudTerm container finds the image's files (the project) inside its mount namespace. */
const IMAGE_ROOT = '/opt/cloudterm-rig/image';

/** Volumes the kubelet mounts read-only whatever the mount says (as Kubernetes does since 1.9). */
const READ_ONLY_KINDS = ['secret', 'configMap', 'downwardAPI', 'projected'] as const;

export interface LaunchContext {
  readonly podsDir: string;
  readonly podDir: string;
  readonly rootDir: string;
  readonly podIp: string;
  readonly apiServer: ApiServerAddress;
  readonly reader: ObjectReader;
  readonly volumes: ReadonlyMap<string, VolumeSource>;
  readonly execPath: string;
}

export interface PodIdentity {
  readonly uid: number;
  readonly gid: number;
  readonly groups: readonly number[];
  readonly fsGroup: number | undefined;
}

/** The user a container runs as (the image's user is unknown here: root unless the pod says). */
export function podIdentity(pod: V1Pod, container: V1Container): PodIdentity {
  const podContext = pod.spec?.securityContext ?? {};
  const own = container.securityContext ?? {};
  const uid = own.runAsUser ?? podContext.runAsUser ?? 0;
  const gid = own.runAsGroup ?? podContext.runAsGroup ?? 0;
  const nonRoot = own.runAsNonRoot ?? podContext.runAsNonRoot ?? false;
  if (nonRoot && uid === 0) throw new ConfigError('container has runAsNonRoot and image will run as root');
  const fsGroup = podContext.fsGroup;
  const groups = [...new Set([...(fsGroup !== undefined ? [fsGroup] : []), ...(podContext.supplementalGroups ?? [])])];
  return { uid, gid, groups, fsGroup };
}

function hasPasswdEntry(uid: number): boolean {
  try {
    return readFileSync('/etc/passwd', 'utf8').split('\n').some((line) => line.split(':')[2] === String(uid));
  } catch {
    return false;
  }
}

/**
 * Creates what a bind mount needs to exist on this machine (an image would carry it) and says
 * where it really is: the mount goes under the container's root, where a symlink such as
 * /var/run -> /run would otherwise point out of it.
 */
async function ensureTarget(target: string, source: string): Promise<string> {
  if (!existsSync(target)) {
    if (statSync(source).isDirectory()) {
      await mkdir(target, { recursive: true });
    } else {
      await mkdir(dirname(target), { recursive: true });
      await writeFile(target, '');
    }
  }
  return realpathSync(target);
}

export async function launchContainer(pod: V1Pod, container: V1Container, attempt: number, context: LaunchContext): Promise<Spawned> {
  const identity = podIdentity(pod, container);
  const env = await containerEnvironment(pod, container, context.podIp, context.apiServer, context.reader);
  const home = join(context.podDir, 'home', container.name);
  await mkdir(home, { recursive: true, mode: 0o700 });
  await chown(home, identity.uid, identity.gid);
  env.HOME ??= home;
  const expanded: V1Container = { ...container, command: container.command?.map((word) => expand(word, env)), args: container.args?.map((word) => expand(word, env)) };
  const program = containerProgram(expanded, context.execPath);
  const mounts: Mount[] = [];
  let argv = bindToPodIp(program, context.podIp, env);
  if (program.kind === 'cloudterm') {
    // The image's files: the project, bound read-only at a path of its own before the pod's
    // volumes, so that a volume mounted where the project happens to live (an emptyDir at /tmp
    // over a checkout under /tmp) cannot hide the program, as it could not in a real image.
    mounts.push({ source: REPO_ROOT, target: await ensureTarget(IMAGE_ROOT, REPO_ROOT), readOnly: true });
    argv = argv.map((word) => (word.startsWith(`${REPO_ROOT}/`) ? join(IMAGE_ROOT, relative(REPO_ROOT, word)) : word));
  }
  const volumeKinds = new Map((pod.spec?.volumes ?? []).map((volume) => [volume.name, READ_ONLY_KINDS.some((kind) => volume[kind] !== undefined)]));
  for (const mount of container.volumeMounts ?? []) {
    const volume = context.volumes.get(mount.name);
    if (!volume) throw new ConfigError(`volume ${mount.name} is not defined by the pod`);
    const source = mount.subPath ? join(volume.path, mount.subPath) : volume.path;
    if (!existsSync(source)) {
      if (!mount.subPath) throw new ConfigError(`volume ${mount.name} has no content at ${source}`);
      await mkdir(source, { recursive: true });
    }
    mounts.push({ source, target: await ensureTarget(mount.mountPath, source), readOnly: Boolean(mount.readOnly) || volumeKinds.get(mount.name) === true });
  }
  if (!hasPasswdEntry(identity.uid)) {
    // node's os.userInfo() (and many programs) need the user to exist, as the image's /etc/passwd would say.
    const passwd = join(context.podDir, 'etc', `passwd-${container.name}`);
    await mkdir(dirname(passwd), { recursive: true });
    await writeFile(passwd, readFileSync('/etc/passwd'));
    await appendFile(passwd, `rig:x:${identity.uid}:${identity.gid}:pod user:${env.HOME}:/bin/sh\n`);
    await chmod(passwd, 0o644);
    mounts.push({ source: passwd, target: '/etc/passwd', readOnly: true });
  }

  const security = container.securityContext ?? {};
  const logDir = join(context.podDir, 'logs');
  await mkdir(logDir, { recursive: true });
  return spawnSandboxed({
    podsDir: context.podsDir,
    podDir: context.podDir,
    rootDir: context.rootDir,
    argv,
    env,
    cwd: container.workingDir ?? env.HOME,
    mounts,
    uid: identity.uid,
    gid: identity.gid,
    groups: identity.groups,
    noNewPrivileges: security.allowPrivilegeEscalation === false,
    dropAllCapabilities: security.capabilities?.drop?.includes('ALL') ?? false,
    readOnlyRoot: security.readOnlyRootFilesystem === true,
    logPath: join(logDir, `${container.name}.log`),
    pidFile: join(context.podDir, `${container.name}-${attempt}.pid`),
    exitFile: join(context.podDir, `${container.name}-${attempt}.exit`),
  });
}

/** The program's PID (the container's main process), once the shim has written it. */
export function programPid(podDir: string, container: string, attempt: number): number | undefined {
  try {
    const pid = Number(readFileSync(join(podDir, `${container}-${attempt}.pid`), 'utf8').trim());
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

/** The exit code the shim recorded; undefined when it was killed before it could. */
export function recordedExit(podDir: string, container: string, attempt: number): number | undefined {
  try {
    const code = Number(readFileSync(join(podDir, `${container}-${attempt}.exit`), 'utf8').trim());
    return Number.isInteger(code) ? code : undefined;
  } catch {
    return undefined;
  }
}
