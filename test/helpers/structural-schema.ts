// What a Kubernetes API server (1.16+) does with a custom resource against its CRD's structural
// schema, for unit tests: prune unknown fields, and list the schema violations as the causes of the
// 422 it answers, in its words (Go's openapi validator's messages, as ../shared/kube-transcripts/
// cr-crud.json records them). test/integration/kube/terminalsession-crd.test.ts compares these
// with what the real server answers for the same bad specs, which keeps this model honest.
import type { JsonSchema } from '../../operator/src/api/json-schema.js';

export interface Cause {
  /** `spec.size`; inside a list, the item's index is left out, as the server does. */
  field: string;
  /** The cause's message without the field: `Invalid value: 0: spec.size in body should be …`. */
  message: string;
}

function typeOf(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  if (typeof value === 'number') return Number.isInteger(value) ? 'integer' : 'number';
  return typeof value;
}

function matchesType(value: unknown, schema: JsonSchema): boolean {
  const actual = typeOf(value);
  if (schema['x-kubernetes-int-or-string']) return actual === 'integer' || actual === 'string';
  if (!schema.type) return true;
  return actual === schema.type || (schema.type === 'number' && actual === 'integer');
}

const join = (field: string, name: string) => (field ? `${field}.${name}` : name);
const show = (value: unknown) => (typeof value === 'string' ? JSON.stringify(value) : String(value));

/** The causes of the 422 the server answers for `value` at `field`, empty when it is valid. */
export function schemaCauses(value: unknown, schema: JsonSchema, field: string): Cause[] {
  const out: Cause[] = [];
  const invalid = (shown: unknown, text: string) => out.push({ field, message: `Invalid value: ${show(shown)}: ${field} in body ${text}` });
  if (!matchesType(value, schema)) {
    const actual = JSON.stringify(typeOf(value));
    if (schema['x-kubernetes-int-or-string']) {
      // The anyOf of integer and string fails three ways, each reported (a quirk the server has).
      out.push({ field: '<nil>', message: `Invalid value: "": ${JSON.stringify(field)} must validate at least one schema (anyOf)` });
      invalid(typeOf(value), `must be of type integer,string: ${actual}`);
      invalid(typeOf(value), `must be of type integer: ${actual}`);
    } else {
      invalid(typeOf(value), `must be of type ${schema.type}: ${actual}`);
    }
    return out;
  }
  if (schema.enum && !schema.enum.includes(value)) {
    out.push({ field, message: `Unsupported value: ${show(value)}: supported values: ${schema.enum.map(show).join(', ')}` });
  }
  if (typeof value === 'number') {
    if (schema.minimum !== undefined && value < schema.minimum) invalid(value, `should be greater than or equal to ${schema.minimum}`);
    if (schema.maximum !== undefined && value > schema.maximum) invalid(value, `should be less than or equal to ${schema.maximum}`);
  }
  if (typeof value === 'string') {
    const length = [...value].length;
    if (schema.minLength !== undefined && length < schema.minLength) invalid(value, `should be at least ${schema.minLength} chars long`);
    if (schema.maxLength !== undefined && length > schema.maxLength) invalid(value, `should be at most ${schema.maxLength} chars long`);
    if (schema.pattern !== undefined && !new RegExp(schema.pattern).test(value)) invalid(value, `should match '${schema.pattern}'`);
  }
  if (Array.isArray(value)) {
    if (schema.minItems !== undefined && value.length < schema.minItems) invalid(value.length, `should have at least ${schema.minItems} items`);
    if (schema.maxItems !== undefined && value.length > schema.maxItems) invalid(value.length, `should have at most ${schema.maxItems} items`);
    if (schema.items) for (const item of value) out.push(...schemaCauses(item, schema.items, field));
    const keys = schema['x-kubernetes-list-type'] === 'map' ? schema['x-kubernetes-list-map-keys'] ?? [] : [];
    if (keys.length > 0) {
      const seen = new Set<string>();
      value.forEach((item, i) => {
        const key = keys.map((k) => `${JSON.stringify(k)}:${JSON.stringify((item as Record<string, unknown>)[k])}`).join(', ');
        if (seen.has(key)) out.push({ field: `${field}[${i}]`, message: `Duplicate value: map[string]interface {}{${key}}` });
        seen.add(key);
      });
    }
  }
  if (typeOf(value) === 'object') {
    const object = value as Record<string, unknown>;
    for (const name of schema.required ?? []) {
      if (object[name] === undefined) out.push({ field: join(field, name), message: 'Required value' });
    }
    for (const [name, child] of Object.entries(schema.properties ?? {})) {
      if (object[name] !== undefined && object[name] !== null) out.push(...schemaCauses(object[name], child, join(field, name)));
    }
  }
  return out;
}

/** `value` without the fields its schema does not name (what the server stores). */
export function prune(value: unknown, schema: JsonSchema): unknown {
  if (Array.isArray(value)) return schema.items ? value.map((item) => prune(item, schema.items!)) : value;
  if (typeOf(value) !== 'object' || schema['x-kubernetes-preserve-unknown-fields'] || !schema.properties) return value;
  return Object.fromEntries(
    Object.entries(value as Record<string, unknown>)
      .filter(([name]) => name in schema.properties!)
      .map(([name, v]) => [name, prune(v, schema.properties![name]!)]),
  );
}
