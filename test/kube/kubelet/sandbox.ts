// Runs one container's program as a real process in a mount namespace of its own (`unshare -m`,
// so root is needed): its pod's folder is the only pod folder it can see, its volumes are
// bind-mounted at the container's mount paths, `/` is read-only when readOnlyRootFilesystem asks,
// and it runs as the pod's user and groups (setpriv). A small shell shim stays as its parent: it
// forwards SIGTERM and writes the exit code to a file, so that a kubelet that was restarted in
// between still learns how the container ended.
//
// The container's view is assembled under a root of its own (a recursive bind of `/`) and the
// program is chrooted into it, as a runtime pivots into an image: the pod's mounts cover paths
// inside that root only. The shim stays outside it, so a volume mounted at /tmp (say) hides
// neither the shim's pid and exit files nor the other volumes' sources from it, wherever the
// kubelet keeps its state.
import { spawn } from 'node:child_process';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

export interface Mount {
  readonly source: string;
  readonly target: string;
  readonly readOnly: boolean;
}

export interface SandboxSpec {
  /** The folder of all pods; covered by a tmpfs inside the namespace. */
  readonly podsDir: string;
  /** This pod's folder (under podsDir); the only one put back. */
  readonly podDir: string;
  /** An empty folder outside podsDir: the container's root is assembled there (in its namespace only). */
  readonly rootDir: string;
  readonly argv: readonly string[];
  readonly env: Readonly<Record<string, string>>;
  readonly cwd: string;
  /** Targets are paths as the container sees them, symlinks resolved (they are mounted under rootDir). */
  readonly mounts: readonly Mount[];
  readonly uid: number;
  readonly gid: number;
  readonly groups: readonly number[];
  readonly noNewPrivileges: boolean;
  readonly dropAllCapabilities: boolean;
  readonly readOnlyRoot: boolean;
  readonly logPath: string;
  /** The shim writes the program's PID here, then its exit code to exitFile. */
  readonly pidFile: string;
  readonly exitFile: string;
}

const quote = (value: string) => `'${value.replace(/'/g, `'\\''`)}'`;

/** The shim's script: set up the container's root, then run and watch the program in it. */
export function shimScript(spec: SandboxSpec): string {
  const root = (path: string) => quote(join(spec.rootDir, path));
  const lines = [
    'set -e',
    'mount --make-rprivate /',
    `mount --rbind / ${quote(spec.rootDir)}`,
    `mount -t tmpfs -o mode=0711,size=64k rig-pods ${root(spec.podsDir)}`,
    `mkdir -p ${root(spec.podDir)}`,
    `mount --bind ${quote(spec.podDir)} ${root(spec.podDir)}`,
  ];
  for (const mount of spec.mounts) {
    lines.push(`mount --bind ${quote(mount.source)} ${root(mount.target)}`);
    if (mount.readOnly) lines.push(`mount -o remount,bind,ro ${root(mount.target)}`);
  }
  if (spec.readOnlyRoot) lines.push(`mount -o remount,bind,ro ${quote(spec.rootDir)}`);
  const setpriv = [
    // Into the container's root and its working folder while still root (the pod's user may not
    // be able to walk the kubelet's folders down to its home), then the user.
    'unshare', `--root=${spec.rootDir}`, `--wd=${spec.cwd}`,
    'setpriv',
    `--reuid=${spec.uid}`,
    `--regid=${spec.gid}`,
    spec.groups.length > 0 ? `--groups=${spec.groups.join(',')}` : '--clear-groups',
    ...(spec.noNewPrivileges ? ['--no-new-privs'] : []),
    ...(spec.dropAllCapabilities ? ['--inh-caps=-all', '--bounding-set=-all'] : []),
    '--',
    'env', '-i',
    ...Object.entries(spec.env).map(([name, value]) => `${name}=${value}`),
    ...spec.argv,
  ];
  lines.push(
    `test -d ${root(spec.cwd)}`,
    'set +e',
    // SIGTERM goes to the program (the container's PID 1); the shim waits for its real exit code.
    'trap \'kill -TERM "$child" 2>/dev/null\' TERM',
    `${setpriv.map(quote).join(' ')} </dev/null &`,
    'child=$!',
    `echo "$child" > ${quote(spec.pidFile)}`,
    'wait "$child"; code=$?',
    'while kill -0 "$child" 2>/dev/null; do wait "$child"; code=$?; done',
    `echo "$code" > ${quote(spec.exitFile)}.tmp && mv ${quote(spec.exitFile)}.tmp ${quote(spec.exitFile)}`,
  );
  return lines.join('\n');
}

export interface Spawned {
  /** The shim's PID, which is also the process group of everything the container runs. */
  readonly pid: number;
  /** Resolves when the shim exits (only for processes this kubelet started). */
  readonly exited: Promise<void>;
}

export function spawnSandboxed(spec: SandboxSpec): Spawned {
  const log = openSync(spec.logPath, 'a');
  const child = spawn('unshare', ['--mount', '--propagation', 'private', 'sh', '-c', shimScript(spec)], {
    detached: true,
    stdio: ['ignore', log, log],
    env: { PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' },
  });
  closeSync(log);
  if (child.pid === undefined) throw new Error('could not start unshare (install util-linux)');
  child.unref();
  const exited = new Promise<void>((resolve) => {
    child.once('exit', () => resolve());
    child.once('error', () => resolve());
  });
  return { pid: child.pid, exited };
}

/** A process's start time (clock ticks since boot), to tell it from a later one with the same PID; undefined when gone or a zombie. */
export function processStart(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (fields[0] === 'Z' || fields[0] === 'X') return undefined;
    return Number(fields[19]);
  } catch {
    return undefined;
  }
}

export function signalGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    // already gone
  }
}

export function signalProcess(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(pid, signal);
  } catch {
    // already gone
  }
}
