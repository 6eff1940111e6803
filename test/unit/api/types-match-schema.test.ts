// The TypeScript types in operator/src/api/terminal-session.ts and the CRD's schema describe the
// same resource: every spec and status field of one exists in the other, with the same kind of
// value, the same enum values, and "always present" (required or defaulted) exactly where the type
// says the field is not optional. Read with the TypeScript compiler, so a field added on one side
// only fails here.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { TERMINAL_SESSION_SCHEMA } from '../../../operator/src/api/crd-schema.generated.js';
import type { JsonSchema } from '../../../operator/src/api/json-schema.js';

const TYPES_FILE = fileURLToPath(new URL('../../../operator/src/api/terminal-session.ts', import.meta.url));

/** The shape both sides are reduced to. */
interface Shape {
  kind: 'string' | 'number' | 'boolean' | 'int-or-string' | 'array' | 'object';
  enum?: string[];
  items?: Shape;
  properties?: Record<string, Shape & { optional: boolean }>;
}

function fromSchema(node: JsonSchema): Shape {
  if (node['x-kubernetes-int-or-string']) return { kind: 'int-or-string' };
  switch (node.type) {
    case 'string':
      return node.enum ? { kind: 'string', enum: node.enum.map(String).sort() } : { kind: 'string' };
    case 'integer':
    case 'number':
      return { kind: 'number' };
    case 'boolean':
      return { kind: 'boolean' };
    case 'array':
      return { kind: 'array', items: fromSchema(node.items!) };
    default: {
      const required = new Set(node.required ?? []);
      const properties = Object.entries(node.properties ?? {}).map(([name, child]) => [
        name,
        { ...fromSchema(child), optional: !required.has(name) && child.default === undefined },
      ]);
      return { kind: 'object', properties: Object.fromEntries(properties) };
    }
  }
}

function fromType(checker: ts.TypeChecker, type: ts.Type, where: ts.Node): Shape {
  const t = checker.getNonNullableType(type);
  if (t.flags & ts.TypeFlags.BooleanLike) return { kind: 'boolean' };
  if (t.flags & ts.TypeFlags.String) return { kind: 'string' };
  if (t.flags & ts.TypeFlags.Number) return { kind: 'number' };
  if (t.isUnion()) {
    if (t.types.every((member) => member.isStringLiteral())) {
      return { kind: 'string', enum: t.types.map((member) => (member as ts.StringLiteralType).value).sort() };
    }
    const flags = t.types.map((member) => member.flags);
    if (flags.length === 2 && flags.some((f) => f & ts.TypeFlags.String) && flags.some((f) => f & ts.TypeFlags.Number)) {
      return { kind: 'int-or-string' };
    }
    throw new Error(`unexpected union ${checker.typeToString(t)}`);
  }
  if (checker.isArrayType(t)) return { kind: 'array', items: fromType(checker, checker.getTypeArguments(t as ts.TypeReference)[0]!, where) };
  const properties = checker.getPropertiesOfType(t).map((symbol) => [
    symbol.name,
    { ...fromType(checker, checker.getTypeOfSymbolAtLocation(symbol, where), where), optional: (symbol.flags & ts.SymbolFlags.Optional) !== 0 },
  ]);
  return { kind: 'object', properties: Object.fromEntries(properties) };
}

function typeShapes(): Record<'spec' | 'status', Shape> {
  const program = ts.createProgram([TYPES_FILE], { strict: true, target: ts.ScriptTarget.ES2022, noEmit: true });
  const checker = program.getTypeChecker();
  const file = program.getSourceFile(TYPES_FILE)!;
  const shapeOf = (name: string) => {
    const declaration = file.statements.find((s): s is ts.InterfaceDeclaration => ts.isInterfaceDeclaration(s) && s.name.text === name);
    assert.ok(declaration, `${name} is declared in ${TYPES_FILE}`);
    return fromType(checker, checker.getTypeAtLocation(declaration.name), declaration);
  };
  return { spec: shapeOf('TerminalSessionSpec'), status: shapeOf('TerminalSessionStatus') };
}

const types = typeShapes();
const schema = TERMINAL_SESSION_SCHEMA.properties!;

test('TerminalSessionSpec and the schema of spec have the same fields', () => {
  assert.deepEqual(types.spec, fromSchema(schema['spec']!));
});

test('TerminalSessionStatus and the schema of status have the same fields', () => {
  assert.deepEqual(types.status, fromSchema(schema['status']!));
});

test('the comparison sees a difference (a field the types do not have)', () => {
  const widened: JsonSchema = { ...schema['spec']!, properties: { ...schema['spec']!.properties, shell: { type: 'string', maxLength: 1 } } };
  assert.notDeepEqual(types.spec, fromSchema(widened));
});
