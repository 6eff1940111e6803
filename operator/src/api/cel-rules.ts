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

// Kubernetes' CEL environment has the standard library and the strings extension (among others
// these rules do not use).
const ENV = celEnv({ funcs: strings });
const programs = new Map<string, Program>();

function program(rule: string): Program {
  let compiled = programs.get(rule);
  if (!compiled) {
    compiled = plan(ENV, parse(rule)) as Program;
    programs.set(rule, compiled);
  }
  return compiled;
}

const USES_OLD_SELF = /\boldSelf\b/;

function collectRules(schema: JsonSchema, path: string, into: CelRule[]): CelRule[] {
  for (const { rule, message } of schema['x-kubernetes-validations'] ?? []) {
    into.push({ path, rule, message: message ?? `failed rule: ${rule}`, transition: USES_OLD_SELF.test(rule) });
  }
  for (const [name, child] of Object.entries(schema.properties ?? {})) collectRules(child, path ? `${path}.${name}` : name, into);
  if (schema.items) collectRules(schema.items, `${path}[]`, into);
  return into;
}

/** Every rule in the CRD, in schema order. */
export const CEL_RULES: readonly CelRule[] = Object.freeze(collectRules(TERMINAL_SESSION_SCHEMA, '', []));

// Kubernetes compares lists of x-kubernetes-list-type map or set without regard to order: given in
// one canonical order, CEL's ordered equality says the same.
function canonicalOrder(list: unknown[], schema: JsonSchema | undefined): unknown[] {
  const type = schema?.['x-kubernetes-list-type'];
  if (type !== 'map' && type !== 'set') return list;
  const keys = schema?.['x-kubernetes-list-map-keys'] ?? [];
  const sortKey = (item: unknown) => JSON.stringify(type === 'map' ? keys.map((k) => (item as Record<string, unknown> | null)?.[k]) : item);
  return [...list].sort((a, b) => (sortKey(a) < sortKey(b) ? -1 : sortKey(a) > sortKey(b) ? 1 : 0));
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

/** List items paired with the old list's item of the same key, for x-kubernetes-list-type: map. */
function oldItem(schema: JsonSchema, item: unknown, oldList: unknown): unknown {
  const keys = schema['x-kubernetes-list-map-keys'];
  if (schema['x-kubernetes-list-type'] !== 'map' || !keys || !Array.isArray(oldList)) return undefined;
  const key = (v: unknown) => JSON.stringify(keys.map((k) => (v as Record<string, unknown> | null)?.[k]));
  return oldList.find((candidate) => key(candidate) === key(item));
}

function check(value: unknown, old: unknown, schema: JsonSchema, field: string, out: CelViolation[]): void {
  const rules = schema['x-kubernetes-validations'];
  if (rules?.length) {
    const self = toCel(value, schema);
    const oldSelf = old === undefined ? undefined : toCel(old, schema);
    for (const { rule, message } of rules) {
      const transition = USES_OLD_SELF.test(rule);
      if (transition && oldSelf === undefined) continue;
      const result = program(rule)(transition ? { self, oldSelf: oldSelf! } : { self });
      if (isCelError(result)) {
        out.push({ field, rule, message: `rule ${JSON.stringify(rule)} could not be evaluated: ${result.message}` });
      } else if (result !== true) {
        out.push({ field, rule, message: message ?? `failed rule: ${rule}` });
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
