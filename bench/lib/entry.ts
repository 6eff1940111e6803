// The built `cloudterm` command, as package.json's `bin` names it (it moves with the layout).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

export function cloudtermEntry(repoRoot: string): string {
  const manifest = JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')) as { bin: { cloudterm: string } };
  return manifest.bin.cloudterm;
}
