// The CRD's x-kubernetes-validations rules, evaluated with a CEL library. API servers enforce them
// from Kubernetes 1.25; on older servers they are dropped from the CRD, and the operator calls
// celViolations() to refuse such a spec itself (Ready=False, reason Invalid). The rules come from
// crd-schema.generated.ts, which a test keeps equal to crds/terminalsession.yaml: one set of rules.
import { celEnv, isCelError, parse, plan, type CelInput, type CelResult } from '@bufbuild/cel';
import { strings } from '@bufbuild/cel/ext';
import { TERMINAL_SESSION_SCHEMA } from './crd-schema.generated.js';
import type { JsonSchema } from './json-schema.js';
import { applySchemaDefaults } from './schema-defaults.js';

export interface CelViolation {
  /** Where the rule sits, as the API server names it: `spec`, `spec.owner`, `spec.env[2].name`. */
  field: string;
  rule: string;
  /** The rule's message, which is what a 1.25+ server answers. */
  message: string;
}

/** One rule of the CRD, where it sits in the schema (`[]` for any list item). */
export interface CelRule {
  path: string;
  rule: string;
  message: string;
  /** Uses oldSelf: checked on updates only, where the old value exists (as the server does). */
  transition: boolean;
}

/** What celViolations reads of a TerminalSession; root rules may see only these metadata fields. */
export interface SessionObject {
  metadata?: { name?: string; generateName?: string };
  spec?: unknown;
}

type Program = (bindings: Record<string, CelInput>) => CelResult;

interface CompiledRule {
  rule: string;
  message: string;
  transition: boolean;
  run: Program;
}

// Kubernetes' CEL environment has the standard library and the strings extension (among others
// these rules do not use).
const ENV = celEnv({ funcs: strings });
const USES_OLD_SELF = /\boldSelf\b/;
const compiled = new WeakMap<JsonSchema, CompiledRule[]>();

/** The rules of one schema node, parsed and planned once. */
function rulesOf(schema: JsonSchema): CompiledRule[] {
  let rules = compiled.get(schema);
  if (!rules) {
    rules = (schema['x-kubernetes-validations'] ?? []).map(({ rule, message }) => ({
      rule,
      message: message ?? `failed rule: ${rule}`,
      transition: USES_OLD_SELF.test(rule),
      run: plan(ENV, parse(rule)) as Program,
    }));
    compiled.set(schema, rules);
  }
  return rules;
}

function collectRules(schema: JsonSchema, path: string, into: CelRule[]): CelRule[] {
  for (const { rule, message, transition } of rulesOf(schema)) into.push({ path, rule, message, transition });
  for (const [name, child] of Object.entries(schema.properties ?? {})) collectRules(child, path ? `${path}.${name}` : name, into);
  if (schema.items) collectRules(schema.items, `${path}[]`, into);
  return into;
}

/** Every rule in the CRD, in schema order. */
export const CEL_RULES: readonly CelRule[] = Object.freeze(collectRules(TERMINAL_SESSION_SCHEMA, '', []));

/** What identifies an item of a list of x-kubernetes-list-type map (its keys) or set (itself). */
function itemKey(schema: JsonSchema | undefined, item: unknown): string | undefined {
  switch (schema?.['x-kubernetes-list-type']) {
    case 'map':
      return JSON.stringify((schema['x-kubernetes-list-map-keys'] ?? []).map((k) => (item as Record<string, unknown> | null)?.[k]));
    case 'set':
      return JSON.stringify(item);
    default:
      return undefined;
  }
}

// Kubernetes compares lists of x-kubernetes-list-type map or set without regard to order: given in
// one canonical order, CEL's ordered equality says the same.
function canonicalOrder(list: unknown[], schema: JsonSchema | undefined): unknown[] {
  const type = schema?.['x-kubernetes-list-type'];
  if (type !== 'map' && type !== 'set') return list;
  const keyed = list.map((item) => [itemKey(schema, item)!, item] as const);
  return keyed.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, item]) => item);
}

// Values as the API server hands them to CEL: schema integers as CEL ints, objects as maps.
function toCel(value: unknown, schema: JsonSchema | undefined): CelInput {
  if (Array.isArray(value)) return canonicalOrder(value, schema).map((item) => toCel(item, schema?.items));
  if (typeof value === 'number' && Number.isInteger(value) && (schema?.type === 'integer' || schema?.['x-kubernetes-int-or-string'])) {
    return BigInt(value);
  }
  if (value !== null && typeof value === 'object') {
    // Null-valued fields are absent to CEL in Kubernetes (has() is false).
    const entries = Object.entries(value as Record<string, unknown>).filter(([, v]) => v !== undefined && v !== null);
    return new Map(entries.map(([key, v]) => [key, toCel(v, schema?.properties?.[key])]));
  }
  return value as CelInput;
}

/** The old list's item with the same key, for a list of x-kubernetes-list-type map (as the server pairs them). */
function oldItem(schema: JsonSchema, item: unknown, oldList: unknown): unknown {
  if (schema['x-kubernetes-list-type'] !== 'map' || !Array.isArray(oldList)) return undefined;
  const key = itemKey(schema, item);
  return oldList.find((candidate) => itemKey(schema, candidate) === key);
}

function check(value: unknown, old: unknown, schema: JsonSchema, field: string, out: CelViolation[]): void {
  const rules = rulesOf(schema);
  if (rules.length > 0) {
    const self = toCel(value, schema);
    const oldSelf = old === undefined || old === null ? undefined : toCel(old, schema);
    for (const { rule, message, transition, run } of rules) {
      if (transition && oldSelf === undefined) continue;
      const result = run(transition ? { self, oldSelf: oldSelf! } : { self });
      if (isCelError(result)) {
        out.push({ field, rule, message: `rule ${JSON.stringify(rule)} could not be evaluated: ${result.message}` });
      } else if (result !== true) {
        out.push({ field, rule, message });
      }
    }
  }
  if (Array.isArray(value) && schema.items) {
    value.forEach((item, i) => check(item, oldItem(schema, item, old), schema.items!, `${field}[${i}]`, out));
  } else if (value !== null && typeof value === 'object') {
    for (const [name, child] of Object.entries(schema.properties ?? {})) {
      const v = (value as Record<string, unknown>)[name];
      if (v === undefined || v === null) continue;
      const o = old !== null && typeof old === 'object' ? (old as Record<string, unknown>)[name] : undefined;
      check(v, o, child, field ? `${field}.${name}` : name, out);
    }
  }
}

function evaluated(session: SessionObject): Record<string, unknown> {
  const { name, generateName } = session.metadata ?? {};
  const metadata = Object.fromEntries(Object.entries({ name, generateName }).filter(([, v]) => v !== undefined));
  // The server validates the object it will store: defaults applied, metadata narrowed.
  return applySchemaDefaults({ metadata, spec: session.spec }, TERMINAL_SESSION_SCHEMA) as Record<string, unknown>;
}

/**
 * The CRD rules `session` breaks, empty when it keeps them all. With `old` (the object as it was
 * before this change), the transition rules (immutability) are checked too. Pure: the same
 * arguments give the same answer, with no I/O.
 */
export function celViolations(session: SessionObject, old?: SessionObject): CelViolation[] {
  const out: CelViolation[] = [];
  check(evaluated(session), old === undefined ? undefined : evaluated(old), TERMINAL_SESSION_SCHEMA, '', out);
  return out;
}
