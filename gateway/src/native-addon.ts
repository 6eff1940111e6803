// The project's own native addons (gateway/native/*.c), built into build/Release by `npm ci`
// (node-gyp). Found from gateway/src/ when run from the sources and from dist/gateway/src/.
import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The addon's exports, or why it cannot be had (for a configuration error). */
export function loadNativeAddon<T>(name: 'fd_splice'): { addon: T } | { problem: string } {
  const here = dirname(fileURLToPath(import.meta.url));
  const path = [join(here, '..', '..'), join(here, '..', '..', '..')]
    .map((root) => join(root, 'build', 'Release', `${name}.node`))
    .find((candidate) => existsSync(candidate));
  if (!path) return { problem: `build/Release/${name}.node is not built (npm ci builds it with node-gyp; needs make and a C compiler)` };
  try {
    return { addon: createRequire(import.meta.url)(path) as T };
  } catch (error) {
    return { problem: `build/Release/${name}.node does not load: ${(error as Error).message}` };
  }
}
