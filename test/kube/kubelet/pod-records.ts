// What the kubelet remembers of each pod on disk (`<state>/pods/<uid>/pod.json`), so that a
// kubelet started again on the same state folder adopts the processes the last one left running,
// or learns how they ended, instead of starting duplicates or leaving orphans.
import { readdirSync, readFileSync } from 'node:fs';
import { rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { ContainerState, Terminated } from './pod-status.js';

export interface ContainerRecord {
  /** How many times it was started; names the pid/exit files of each start. */
  attempt: number;
  restartCount: number;
  state: ContainerState;
  lastState?: Terminated;
  /** The shim of the current attempt (its process group), and its start time against PID reuse. */
  shimPid?: number;
  shimStart?: number;
  /** No more starts: the pod's restartPolicy said so. */
  final?: boolean;
}

export interface PodRecord {
  readonly uid: string;
  readonly namespace: string;
  readonly name: string;
  readonly podIp: string;
  readonly startTime: string;
  readonly containers: Record<string, ContainerRecord>;
}

export const POD_FILE = 'pod.json';

export async function saveRecord(podDir: string, record: PodRecord): Promise<void> {
  const path = join(podDir, POD_FILE);
  await writeFile(`${path}.tmp`, JSON.stringify(record));
  await rename(`${path}.tmp`, path);
}

/** Every pod record under `podsDir` (a record that cannot be read is skipped: its folder is an orphan). */
export function loadRecords(podsDir: string): Map<string, PodRecord> {
  const records = new Map<string, PodRecord>();
  let entries: string[] = [];
  try {
    entries = readdirSync(podsDir);
  } catch {
    return records;
  }
  for (const uid of entries) {
    try {
      const record = JSON.parse(readFileSync(join(podsDir, uid, POD_FILE), 'utf8')) as PodRecord;
      if (record.uid === uid) records.set(uid, record);
    } catch {
      records.set(uid, { uid, namespace: '', name: '', podIp: '', startTime: '', containers: {} });
    }
  }
  return records;
}
