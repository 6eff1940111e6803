// Whether a terminal's program can be run, and in which directory, checked before a PTY is made
// for it. node-pty learns of a failed exec only when the forked child exits, after the agent
// already answers as running; checking first turns "no such shell" into a clear start-up error
// instead of a session that ends as soon as it opens.
import { accessSync, constants, statSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { fsProblem } from './options.js';

/** execvp's search path when the environment has none. */
const DEFAULT_SEARCH_PATH = '/usr/local/bin:/usr/bin:/bin';

/** Why `path` is not what a program start needs (a file to execute, a directory to enter); null when it is. */
function executeProblem(path: string, need: 'file' | 'directory'): string | null {
  try {
    const isDirectory = statSync(path).isDirectory();
    if (need === 'file' && isDirectory) return 'is a directory';
    if (need === 'directory' && !isDirectory) return 'not a directory';
    // Execute permission: to run a file, to enter a directory.
    accessSync(path, constants.X_OK);
    return null;
  } catch (error) {
    return fsProblem(error as NodeJS.ErrnoException, need === 'file' ? 'no such file' : 'no such directory');
  }
}

/**
 * Why `command` cannot be run, found the way execvp finds it (a name with a slash as given, a
 * bare name on `searchPath`); null when it can.
 */
export function programProblem(command: string, searchPath: string | undefined): string | null {
  if (command.includes('/')) return executeProblem(command, 'file');
  const directories = (searchPath ?? DEFAULT_SEARCH_PATH).split(delimiter).filter(Boolean);
  if (directories.some((directory) => executeProblem(join(directory, command), 'file') === null)) return null;
  return `not found on PATH (${directories.join(delimiter)})`;
}

/** Why a program cannot be started in `path`; null when it can. */
export function directoryProblem(path: string): string | null {
  return executeProblem(path, 'directory');
}
