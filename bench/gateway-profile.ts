// Ranks where a gateway process spent its time, from a V8 .cpuprofile (node --cpu-prof): by
// function (self time) and by origin (our code, fastify, jose, pino, Node's internals, GC, idle).
// The reading and ranking is lib/cpu-profile.ts; the gateway groups origins by package name,
// where the agent benchmark names a few packages it cares about.
import { rankProfile, type ProfileRow } from './lib/cpu-profile.js';

export type { ProfileRow };

export interface ProfileSummary {
  readonly file: string;
  readonly totalMs: number;
  /** Share of samples that were not (idle): how busy the process was. */
  readonly busyShare: number;
  readonly byFunction: readonly ProfileRow[];
  readonly byOrigin: readonly ProfileRow[];
}

function origin(url: string, functionName: string): string {
  if (!url) return functionName.startsWith('(') ? functionName : '(native)';
  const pkg = /\/node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(url);
  if (pkg) return pkg[1]!;
  if (url.includes('/dist/')) return 'gateway code';
  if (url.startsWith('node:')) return 'node internals';
  return 'other';
}

export async function summarizeProfile(file: string, top = 15): Promise<ProfileSummary> {
  const { totalMs, busyShare, byFunction, byOrigin } = await rankProfile(file, { originOf: origin, top, originLimit: 12 });
  return { file, totalMs, busyShare, byFunction, byOrigin };
}
