// A pod's volumes as files in its own folder, written the way the kubelet's atomic writer does
// (a `..data` symlink swapped to a new timestamped folder), so that a refresh (a changed Secret,
// a token near its expiry) is seen whole by the program through its bind mount. Secret,
// ConfigMap, downwardAPI and projected (with bound ServiceAccount tokens) volumes, emptyDir and
// hostPath.
import { createHash } from 'node:crypto';
import { chmod, chown, lstat, mkdir, readdir, readFile, readlink, rename, rm, symlink, writeFile } from 'node:fs/promises';
import { dirname, join, normalize } from 'node:path';
import type { V1KeyToPath, V1Pod, V1Volume, V1DownwardAPIVolumeFile } from '@kubernetes/client-node';
import { ConfigError, podField, type ObjectReader } from './pod-environment.js';

/** Mints a ServiceAccount token bound to the pod (TokenRequest). */
export interface TokenMinter {
  podToken(pod: V1Pod, audience: string | undefined, expirationSeconds: number): Promise<{ token: string; expiresAt: number }>;
}

export interface VolumeSource {
  /** The host path to bind-mount at the container's mount path. */
  readonly path: string;
  /** The content's fingerprint: unchanged content is not written again. */
  readonly fingerprint: string;
  /** When the content must be refreshed at the latest (a token's 80 % mark); Infinity if never. */
  readonly refreshAt: number;
}

interface Ownership {
  readonly fsGroup: number | undefined;
  /** The owner of token files when the pod has one user and no fsGroup (as kubelet ≥ 1.22 does). */
  readonly tokenOwner: number | undefined;
}

interface FileEntry {
  readonly path: string;
  readonly data: Buffer;
  readonly mode: number;
  readonly owner: number;
}

const DEFAULT_MODE = 0o644;
const TOKEN_MODE = 0o600;

function safeRelative(path: string): string {
  const clean = normalize(path);
  if (clean.startsWith('..') || clean.startsWith('/') || clean.split('/').some((part) => part.startsWith('..'))) {
    throw new ConfigError(`volume item path ${JSON.stringify(path)} must be relative and must not contain '..'`);
  }
  return clean;
}

function keyFiles(data: Record<string, Buffer>, items: V1KeyToPath[] | undefined, defaultMode: number, what: string, optional: boolean | undefined): FileEntry[] {
  if (!items || items.length === 0) return Object.entries(data).map(([key, value]) => ({ path: safeRelative(key), data: value, mode: defaultMode, owner: 0 }));
  return items.flatMap((item) => {
    const value = data[item.key];
    if (value === undefined) {
      if (optional) return [];
      throw new ConfigError(`couldn't find key ${item.key} in ${what}`);
    }
    return [{ path: safeRelative(item.path), data: value, mode: item.mode ?? defaultMode, owner: 0 }];
  });
}

function downwardFiles(pod: V1Pod, podIp: string, items: V1DownwardAPIVolumeFile[] | undefined, defaultMode: number): FileEntry[] {
  return (items ?? []).map((item) => {
    if (!item.fieldRef) throw new ConfigError(`downwardAPI volume item ${item.path}: only fieldRef is supported by the rig`);
    return { path: safeRelative(item.path), data: Buffer.from(podField(pod, podIp, item.fieldRef)), mode: item.mode ?? defaultMode, owner: 0 };
  });
}

export class PodVolumes {
  constructor(
    private readonly reader: ObjectReader,
    private readonly tokens: TokenMinter,
  ) {}

  /** Writes (or refreshes) one volume under `dir`; returns what to mount. */
  async materialise(pod: V1Pod, podIp: string, volume: V1Volume, dir: string, ownership: Ownership, previous: VolumeSource | undefined): Promise<VolumeSource> {
    const namespace = pod.metadata?.namespace ?? 'default';
    if (volume.hostPath) return { path: volume.hostPath.path, fingerprint: 'hostPath', refreshAt: Infinity };
    if (volume.emptyDir) {
      await mkdir(dir, { recursive: true });
      await chmod(dir, 0o777);
      if (ownership.fsGroup !== undefined) {
        await chown(dir, 0, ownership.fsGroup);
        await chmod(dir, 0o2777);
      }
      return { path: dir, fingerprint: 'emptyDir', refreshAt: Infinity };
    }
    let files: FileEntry[];
    let refreshAt = Infinity;
    if (volume.secret) {
      const name = volume.secret.secretName ?? '';
      const data = await this.reader.secret(namespace, name);
      if (!data && !volume.secret.optional) throw new ConfigError(`secret "${name}" not found`);
      files = keyFiles(data ?? {}, volume.secret.items, volume.secret.defaultMode ?? DEFAULT_MODE, `secret ${namespace}/${name}`, volume.secret.optional);
    } else if (volume.configMap) {
      const name = volume.configMap.name ?? '';
      const data = await this.reader.configMap(namespace, name);
      if (!data && !volume.configMap.optional) throw new ConfigError(`configmap "${name}" not found`);
      files = keyFiles(data ?? {}, volume.configMap.items, volume.configMap.defaultMode ?? DEFAULT_MODE, `configmap ${namespace}/${name}`, volume.configMap.optional);
    } else if (volume.downwardAPI) {
      files = downwardFiles(pod, podIp, volume.downwardAPI.items, volume.downwardAPI.defaultMode ?? DEFAULT_MODE);
    } else if (volume.projected) {
      const defaultMode = volume.projected.defaultMode ?? DEFAULT_MODE;
      files = [];
      for (const source of volume.projected.sources ?? []) {
        if (source.secret) {
          const name = source.secret.name ?? '';
          const data = await this.reader.secret(namespace, name);
          if (!data && !source.secret.optional) throw new ConfigError(`secret "${name}" not found`);
          files.push(...keyFiles(data ?? {}, source.secret.items, defaultMode, `secret ${namespace}/${name}`, source.secret.optional));
        } else if (source.configMap) {
          const name = source.configMap.name ?? '';
          const data = await this.reader.configMap(namespace, name);
          if (!data && !source.configMap.optional) throw new ConfigError(`configmap "${name}" not found`);
          files.push(...keyFiles(data ?? {}, source.configMap.items, defaultMode, `configmap ${namespace}/${name}`, source.configMap.optional));
        } else if (source.downwardAPI) {
          files.push(...downwardFiles(pod, podIp, source.downwardAPI.items, defaultMode));
        } else if (source.serviceAccountToken) {
          const token = source.serviceAccountToken;
          const seconds = token.expirationSeconds ?? 3600;
          // A token still fresh is kept: minting one on every refresh would churn the file.
          const keep = previous && previous.refreshAt > Date.now();
          const minted = keep ? undefined : await this.tokens.podToken(pod, token.audience, seconds);
          const data = minted ? Buffer.from(minted.token) : await this.previousToken(previous!, token.path);
          if (minted) refreshAt = Math.min(refreshAt, Date.now() + (minted.expiresAt - Date.now()) * 0.8);
          else refreshAt = Math.min(refreshAt, previous!.refreshAt);
          const owned = ownership.tokenOwner !== undefined;
          files.push({ path: safeRelative(token.path), data, mode: owned ? TOKEN_MODE : defaultMode, owner: ownership.tokenOwner ?? 0 });
        }
      }
    } else {
      throw new ConfigError(`volume ${volume.name}: the rig's kubelet supports emptyDir, hostPath, secret, configMap, downwardAPI and projected volumes`);
    }
    const fingerprint = createHash('sha256')
      .update(JSON.stringify(files.map((file) => [file.path, file.mode, file.owner, file.data.toString('base64')])))
      .update(String(ownership.fsGroup))
      .digest('hex');
    if (previous?.fingerprint !== fingerprint) await writeAtomically(dir, files, ownership.fsGroup);
    return { path: dir, fingerprint, refreshAt };
  }

  private previousToken(previous: VolumeSource, path: string): Promise<Buffer> {
    return readFile(join(previous.path, path));
  }
}

/** The kubelet's AtomicWriter: files in `..<timestamp>`, `..data` → it, each top name → `..data/name`. */
async function writeAtomically(dir: string, files: FileEntry[], fsGroup: number | undefined): Promise<void> {
  await mkdir(dir, { recursive: true, mode: 0o755 });
  const stamp = `..${new Date().toISOString().replace(/[:.]/g, '_')}.${process.hrtime.bigint()}`;
  const target = join(dir, stamp);
  await mkdir(target, { mode: 0o755 });
  for (const file of files) {
    const path = join(target, file.path);
    await mkdir(dirname(path), { recursive: true, mode: 0o755 });
    // With an fsGroup the group may read (read-only volumes get 0440 added, as the kubelet's SetVolumeOwnership does).
    const mode = fsGroup !== undefined ? file.mode | 0o440 : file.mode;
    await writeFile(path, file.data, { mode });
    await chmod(path, mode);
    await chown(path, file.owner, fsGroup ?? 0);
  }
  const previous = await readlink(join(dir, '..data')).catch(() => undefined);
  await symlink(stamp, join(dir, '..data_tmp'));
  await rename(join(dir, '..data_tmp'), join(dir, '..data'));
  const tops = new Set(files.map((file) => file.path.split('/')[0]!));
  for (const top of tops) {
    const link = join(dir, top);
    const existing = await lstat(link).catch(() => undefined);
    if (!existing) await symlink(join('..data', top), link);
  }
  for (const entry of await readdir(dir)) {
    if (entry.startsWith('..')) continue;
    if (!tops.has(entry)) await rm(join(dir, entry), { force: true });
  }
  if (previous) await rm(join(dir, previous), { recursive: true, force: true });
}
