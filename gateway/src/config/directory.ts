// Directories named by the configuration (the data directory), made at start with their parents,
// mode 0700. One level at a time rather than Node's recursive mkdir, which on Node 20 never returns
// for some paths (under /proc it spins at full CPU), and so that a directory that cannot be made
// or written is a configuration error naming it, not a stack trace.
import { access, constants, mkdir, stat } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { ConfigError } from './options.js';

function why(error: NodeJS.ErrnoException): string {
  switch (error.code) {
    case 'EACCES':
    case 'EPERM':
      return 'permission denied';
    case 'ENOTDIR':
      return 'a part of the path is a file, not a directory';
    case 'EROFS':
      return 'read-only file system';
    case 'ENOENT':
      return 'it cannot be made there';
    default:
      return error.message;
  }
}

/** Makes `path` (and its missing parents) a writable directory, or throws a ConfigError naming `--flag`. */
export async function prepareDirectory(path: string, flag: string): Promise<void> {
  const fail = (what: string): never => {
    throw new ConfigError([`--${flag} ${path}: ${what}`]);
  };
  const missing: string[] = [];
  for (let at = resolve(path); ; at = dirname(at)) {
    try {
      if (!(await stat(at)).isDirectory()) fail(`${at} is a file, not a directory`);
      break;
    } catch (error) {
      if (error instanceof ConfigError) throw error;
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') fail(`cannot use ${at} (${why(error as NodeJS.ErrnoException)})`);
      missing.unshift(at);
      if (dirname(at) === at) break;
    }
  }
  for (const dir of missing) {
    try {
      await mkdir(dir, { mode: 0o700 });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') fail(`cannot create ${dir} (${why(error as NodeJS.ErrnoException)})`);
    }
  }
  try {
    await access(path, constants.W_OK | constants.X_OK);
  } catch (error) {
    fail(`not writable (${why(error as NodeJS.ErrnoException)})`);
  }
}
