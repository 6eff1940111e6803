// Structural defaulting as the API server does it (apiextensions' defaulting, 1.16+), from the
// CRD's own schema: an absent or null property with a `default` gets a copy of it, and defaulting
// continues inside it; nested defaults apply only where their parent object exists (hence the
// schema's `default: {}` on spec.size).
import { TERMINAL_SESSION_SCHEMA } from './crd-schema.generated.js';
import type { JsonSchema } from './json-schema.js';
import type { TerminalSessionSpec, TerminalSessionSpecInput } from './terminal-session.js';

const SPEC_SCHEMA: JsonSchema = TERMINAL_SESSION_SCHEMA.properties!['spec']!;

/** A copy of `value` with the schema's defaults filled in; `value` is not changed. */
export function applySchemaDefaults(value: unknown, schema: JsonSchema): unknown {
  if (Array.isArray(value)) {
    return schema.items ? value.map((item) => applySchemaDefaults(item, schema.items!)) : [...value];
  }
  if (value === null || typeof value !== 'object') return value;
  const out: Record<string, unknown> = { ...(value as Record<string, unknown>) };
  for (const [name, child] of Object.entries(schema.properties ?? {})) {
    if ((out[name] === undefined || out[name] === null) && child.default !== undefined) {
      out[name] = structuredClone(child.default);
    }
    if (out[name] !== undefined) out[name] = applySchemaDefaults(out[name], child);
  }
  return out;
}

/** The spec as the API server would store it: what `kubectl get -o yaml` shows after a create. */
export function withDefaults(spec: TerminalSessionSpecInput): TerminalSessionSpec {
  return applySchemaDefaults(spec, SPEC_SCHEMA) as TerminalSessionSpec;
}
