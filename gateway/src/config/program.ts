// Whether a terminal's program can be run, and in which directory, checked before a PTY is made for it. node-pty learns
// of a failed exec only when the forked child exits, after the agent already answers as running;
// checking first turns "no such shell" into a clear start-up error instead of a session that ends
// as soon as it opens.
import { accessSync, constants, statSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { fsProblem } from './options.js';

/** execvp's search path when the environment has none. */
const DEFAULT_SEARCH_PATH = '/usr/local/bin:/usr/bin:/bin';

function executableProblem(path: string): string | null {
  try {
    if (statSync(path).isDirectory()) return 'is a directory';
    accessSync(path, constants.X_OK);
    return null;
  } catch (error) {
    return fsProblem(error as NodeJS.ErrnoException, 'no such file');
  }
}

/**
 * Why `command` cannot be run, found the way execvp finds it (a name with a slash as given, a
 * bare name on `searchPath`); null when it can.
 */
export function programProblem(command: string, searchPath: string | undefined): string | null {
  if (command.includes('/')) return executableProblem(command);
  const directories = (searchPath ?? DEFAULT_SEARCH_PATH).split(delimiter).filter(Boolean);
  if (directories.some((directory) => executableProblem(join(directory, command)) === null)) return null;
  return `not found on PATH (${directories.join(delimiter)})`;
}

/** Why a program cannot be started in `path`; null when it can. */
export function directoryProblem(path: string): string | null {
  try {
    if (!statSync(path).isDirectory()) return 'not a directory';
    accessSync(path, constants.X_OK);
    return null;
  } catch (error) {
    return fsProblem(error as NodeJS.ErrnoException, 'no such directory');
  }
}
