// A memory cgroup for one process: the limit Kubernetes enforces for a container's
// `resources.limits.memory`. RSS counts every resident page, including the node binary's clean
// file pages that the kernel may evict and read again; a cgroup limit is the test that matters to a
// deployment: does the process keep working when it may not use more than this?
//
// cgroup v1's memory controller (what this machine has: /sys/fs/cgroup/memory). The process must
// join it before it runs (see `procsFile`): charges never move with a process on this kernel, so
// one moved in later would bring nothing of what it already used.
import { existsSync, mkdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const V1_ROOT = '/sys/fs/cgroup/memory';

export interface MemoryCgroupReading {
  /** Everything charged: anonymous memory, page cache, kernel memory. */
  readonly usageBytes: number;
  readonly anonymousBytes: number;
  readonly fileBytes: number;
  /** Kernel memory for the process: its sockets, their buffers, descriptors (not in RSS). */
  readonly kernelBytes: number;
  /** The highest usage since the cgroup was made. */
  readonly peakBytes: number;
  /** Processes the kernel killed for lack of memory within the limit. */
  readonly oomKills: number;
}

export interface MemoryCgroup {
  readonly limitBytes: number;
  /** Writing a pid here puts that process (and the children it starts after) under the limit. */
  readonly procsFile: string;
  read(): MemoryCgroupReading;
  /** Removes the cgroup (its processes must have exited). */
  remove(): void;
}

function statValues(text: string): Map<string, number> {
  const values = new Map<string, number>();
  for (const line of text.split('\n')) {
    const [name, value] = line.split(' ');
    if (name && value) values.set(name, Number(value));
  }
  return values;
}

export function createMemoryCgroup(name: string, limitBytes: number): MemoryCgroup {
  if (!existsSync(join(V1_ROOT, 'memory.limit_in_bytes'))) throw new Error(`--memory-limit: no cgroup v1 memory controller at ${V1_ROOT}`);
  const dir = join(V1_ROOT, name);
  mkdirSync(dir);
  const file = (leaf: string) => join(dir, leaf);
  const number = (leaf: string) => Number(readFileSync(file(leaf), 'utf8').trim());
  writeFileSync(file('memory.limit_in_bytes'), String(limitBytes));
  // No swap past the limit either, where swap accounting exists (memsw must be set after it).
  if (existsSync(file('memory.memsw.limit_in_bytes'))) writeFileSync(file('memory.memsw.limit_in_bytes'), String(limitBytes));
  return {
    limitBytes,
    procsFile: file('cgroup.procs'),
    read() {
      const stat = statValues(readFileSync(file('memory.stat'), 'utf8'));
      const oom = statValues(readFileSync(file('memory.oom_control'), 'utf8'));
      return {
        usageBytes: number('memory.usage_in_bytes'),
        anonymousBytes: stat.get('total_rss') ?? 0,
        fileBytes: stat.get('total_cache') ?? 0,
        kernelBytes: number('memory.kmem.usage_in_bytes'),
        peakBytes: number('memory.max_usage_in_bytes'),
        oomKills: oom.get('oom_kill') ?? 0,
      };
    },
    remove() {
      rmdirSync(dir);
    },
  };
}
