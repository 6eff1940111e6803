// Finds and loads one of the project's C addons (gateway/native/*.c, agent/native/*.c), which
// node-gyp builds into build/Release when `npm ci` runs. Found from core/src/native/ (tests, tsx)
// and from dist/core/src/native/ (the built command) alike: the repository is three or four up.
import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The loaded module, or why it could not be loaded (for a configuration error or a thrown one). */
export type AddonLoad<T> = { readonly addon: T } | { readonly problem: string };

export function loadAddon<T>(file: string): AddonLoad<T> {
  const here = dirname(fileURLToPath(import.meta.url));
  const path = [join(here, '..', '..', '..'), join(here, '..', '..', '..', '..')]
    .map((root) => join(root, 'build', 'Release', file))
    .find((candidate) => existsSync(candidate));
  if (!path) return { problem: `build/Release/${file} is not built (npm ci builds it with node-gyp; needs make and a C compiler)` };
  try {
    return { addon: createRequire(import.meta.url)(path) as T };
  } catch (error) {
    return { problem: `build/Release/${file} does not load: ${(error as Error).message}` };
  }
}
