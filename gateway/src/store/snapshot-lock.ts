// One process owns a session snapshot. A second gateway started on the same data directory would
// load the same sessions, then overwrite the file with its own view of them at every change:
// sessions made on the first would vanish at its next restart, and neither would reap the other's.
// The owner keeps `<snapshot>.lock`, holding its pid and start time; a lock whose process is gone
// (a crash, a reboot) is taken over, and so is one of this very process (a store opened again in
// one process, as tests do).
import { randomBytes } from 'node:crypto';
import { open, readFile, rm } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { ConfigError } from '../../../core/src/config/options.js';

/** A process's start time in clock ticks since boot (field 22 of /proc/PID/stat); null off Linux or when gone. */
function startTimeOf(pid: number): string | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) is in parentheses and may hold spaces: count from its end.
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19] ?? null;
  } catch {
    return null;
  }
}

/** Whether the process that wrote `owner` ("pid starttime token") still runs: the same pid, started at the same time. */
function ownerRuns(owner: string): boolean {
  const [pidText, startTime] = owner.trim().split(' ');
  const pid = Number(pidText);
  if (!Number.isSafeInteger(pid) || pid <= 0) return false;
  if (pid === process.pid) return false;
  const current = startTimeOf(pid);
  if (current !== null) return current === startTime;
  try {
    // No /proc (not Linux): signal 0 only asks whether the pid exists.
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export class SnapshotLock {
  private constructor(
    private readonly path: string,
    /**
     * What this lock wrote: released only while the file still holds it (not after a takeover).
     * Null when no lock file could be written at all.
     */
    private readonly content: string | null,
  ) {}

  /** Takes the lock of `snapshotPath`, or throws a ConfigError naming the process that holds it. */
  static async acquire(snapshotPath: string): Promise<SnapshotLock> {
    const path = `${snapshotPath}.lock`;
    const me = `${process.pid} ${startTimeOf(process.pid) ?? ''} ${randomBytes(8).toString('hex')}\n`;
    // Twice at most: once more after removing a lock left by a process that is gone.
    for (let attempt = 0; attempt < 2; attempt += 1) {
      try {
        const handle = await open(path, 'wx', 0o600);
        try {
          await handle.writeFile(me, 'utf8');
        } finally {
          await handle.close();
        }
        return new SnapshotLock(path, me);
      } catch (error) {
        // No lock file can be written where the snapshot goes (its directory gone, a full disk):
        // neither can the snapshot, which the store then reports (ping fails, /readyz is 503)
        // while sessions keep working in memory. Refusing to start would help nobody.
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST') return new SnapshotLock(path, null);
      }
      const owner = await readFile(path, 'utf8').catch(() => '');
      if (ownerRuns(owner)) {
        throw new ConfigError([
          `another gateway (pid ${owner.trim().split(' ')[0]}) keeps its sessions in ${snapshotPath}: ` +
            'stop it, or start this one with another --data-dir (gateways share sessions through --redis-url)',
        ]);
      }
      await rm(path, { force: true });
    }
    throw new ConfigError([`another gateway took ${path} while this one started: try again`]);
  }

  async release(): Promise<void> {
    if (this.content === null) return;
    if ((await readFile(this.path, 'utf8').catch(() => null)) === this.content) await rm(this.path, { force: true });
  }
}
