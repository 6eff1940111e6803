// Directories named by the configuration (the data directory), made at start with their parents,
// mode 0700. One level at a time rather than Node's recursive mkdir, which on Node 20 never returns
// for some paths (under /proc it spins at full CPU), and so that a directory that cannot be made
// or written is a configuration error naming it, not a stack trace.
import { access, constants, mkdir, stat } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { ConfigError, fsProblem } from '../../../core/src/config/options.js';

/** Makes `path` (and its missing parents) a writable directory, or throws a ConfigError naming `--flag`. */
export async function prepareDirectory(path: string, flag: string): Promise<void> {
  const fail = (what: string): never => {
    throw new ConfigError([`--${flag} ${path}: ${what}`]);
  };
  const because = (error: unknown) => fsProblem(error as NodeJS.ErrnoException, 'it cannot be made there');
  // Up from `path` to the first part that exists; what is missing below it is made top down.
  const missing: string[] = [];
  for (let at = resolve(path); ; at = dirname(at)) {
    const found = await stat(at).catch((error: NodeJS.ErrnoException) => error);
    if (!(found instanceof Error)) {
      if (!found.isDirectory()) fail(`${at} is a file, not a directory`);
      break;
    }
    if (found.code !== 'ENOENT') fail(`cannot use ${at} (${because(found)})`);
    missing.unshift(at);
    if (dirname(at) === at) break;
  }
  for (const dir of missing) {
    await mkdir(dir, { mode: 0o700 }).catch((error: NodeJS.ErrnoException) => {
      if (error.code !== 'EEXIST') fail(`cannot create ${dir} (${because(error)})`);
    });
  }
  await access(path, constants.W_OK | constants.X_OK).catch((error: unknown) => fail(`not writable (${because(error)})`));
}
