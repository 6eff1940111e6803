// Reads a V8 .cpuprofile (node --cpu-prof) and ranks where the time went: by function (self time)
// and by origin (grouped by the caller: see agentOrigin, and gateway-profile.ts for the gateway).
import { readFile } from 'node:fs/promises';

interface ProfileNode {
  readonly id: number;
  readonly callFrame: { functionName: string; url: string; lineNumber: number };
  readonly hitCount?: number;
}

interface Profile {
  readonly nodes: readonly ProfileNode[];
  readonly startTime: number;
  readonly endTime: number;
}

export interface ProfileRow {
  readonly name: string;
  readonly selfMs: number;
  readonly share: number;
}

export interface ProfileSummary {
  readonly totalMs: number;
  readonly byFunction: readonly ProfileRow[];
  readonly byOrigin: readonly ProfileRow[];
}

export interface RankedProfile extends ProfileSummary {
  /** Share of samples that were not (idle): how busy the process was. */
  readonly busyShare: number;
}

/** Where a sample's code comes from; each benchmark groups by what it cares about. */
export type OriginOf = (url: string, functionName: string) => string;

/** The agent benchmark's origins: the agent's own code, ws, node-pty, Node's internals. */
export function agentOrigin(url: string, functionName: string): string {
  if (!url) return functionName.startsWith('(') ? functionName : '(native)';
  if (url.includes('/node_modules/ws/')) return 'ws';
  if (url.includes('/node_modules/node-pty/')) return 'node-pty';
  if (url.includes('/node_modules/')) return 'other packages';
  if (url.includes('/dist/')) return 'agent code';
  if (url.startsWith('node:')) return 'node internals';
  return 'other';
}

function shortUrl(url: string): string {
  const at = url.lastIndexOf('/node_modules/');
  if (at >= 0) return url.slice(at + '/node_modules/'.length);
  const dist = url.indexOf('/dist/');
  return dist >= 0 ? url.slice(dist + 1) : url;
}

export interface RankOptions {
  readonly originOf: OriginOf;
  /** Rows by function. */
  readonly top: number;
  /** Rows by origin: the agent benchmark lists up to 20, the gateway benchmark 12. */
  readonly originLimit: number;
}

/** Self time by function and by origin, and how busy the process was. */
export async function rankProfile(path: string, options: RankOptions): Promise<RankedProfile> {
  const profile = JSON.parse(await readFile(path, 'utf8')) as Profile;
  const totalHits = profile.nodes.reduce((sum, node) => sum + (node.hitCount ?? 0), 0);
  const totalMs = (profile.endTime - profile.startTime) / 1000;
  const msPerHit = totalHits > 0 ? totalMs / totalHits : 0;
  const byFunction = new Map<string, number>();
  const byOrigin = new Map<string, number>();
  let idle = 0;
  for (const node of profile.nodes) {
    const hits = node.hitCount ?? 0;
    if (hits === 0) continue;
    const { functionName, url, lineNumber } = node.callFrame;
    if (functionName === '(idle)') idle += hits;
    const name = `${functionName || '(anonymous)'}${url ? ` ${shortUrl(url)}:${lineNumber + 1}` : ''}`;
    byFunction.set(name, (byFunction.get(name) ?? 0) + hits);
    const from = options.originOf(url, functionName);
    byOrigin.set(from, (byOrigin.get(from) ?? 0) + hits);
  }
  const rows = (map: Map<string, number>, limit: number): ProfileRow[] =>
    [...map.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, limit)
      .map(([name, hits]) => ({ name, selfMs: hits * msPerHit, share: hits / totalHits }));
  return {
    totalMs,
    busyShare: totalHits > 0 ? 1 - idle / totalHits : 0,
    byFunction: rows(byFunction, options.top),
    byOrigin: rows(byOrigin, options.originLimit),
  };
}

/** The agent benchmark's summary (its results JSON has no busyShare). */
export async function summarizeProfile(path: string, top = 15): Promise<ProfileSummary> {
  const { totalMs, byFunction, byOrigin } = await rankProfile(path, { originOf: agentOrigin, top, originLimit: 20 });
  return { totalMs, byFunction, byOrigin };
}
