// Writes operator/src/api/crd-schema.generated.ts from crds/terminalsession.yaml, so that the
// operator evaluates the CRD's own schema defaults and CEL rules (on API servers older than 1.25)
// without reading YAML at run time. `npm run generate:crd`; test/unit/api/crd-schema-generated.test.ts
// fails when the committed file is not what this writes.
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';

export const CRD_PATH = fileURLToPath(new URL('../crds/terminalsession.yaml', import.meta.url));
export const GENERATED_PATH = fileURLToPath(new URL('../operator/src/api/crd-schema.generated.ts', import.meta.url));

interface CrdFile {
  metadata: { name: string };
  spec: { versions: Array<{ name: string; schema: { openAPIV3Schema: unknown } }> };
}

export function renderSchemaModule(crdYaml: string): string {
  const crd = parse(crdYaml) as CrdFile;
  const [version, ...others] = crd.spec.versions;
  if (!version || others.length > 0) throw new Error(`${CRD_PATH}: expected exactly one version`);
  return [
    `// Generated from crds/terminalsession.yaml by scripts/generate-crd-schema.ts: do not edit.`,
    `// ${crd.metadata.name} ${version.name}, spec.versions[0].schema.openAPIV3Schema.`,
    `import type { JsonSchema } from './json-schema.js';`,
    ``,
    `export const TERMINAL_SESSION_SCHEMA: JsonSchema = ${JSON.stringify(version.schema.openAPIV3Schema, null, 2)};`,
    ``,
  ].join('\n');
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  writeFileSync(GENERATED_PATH, renderSchemaModule(readFileSync(CRD_PATH, 'utf8')));
  console.log(`wrote ${GENERATED_PATH}`);
}
