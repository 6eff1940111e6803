// The client's command lines and what it prints: positionals beside options, gateway URLs, the
// sessions table, and every exit status of the error table documented in docs/client.md.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { parseCommand } from '../../../client/src/args.js';
import { configDirectory, normalizeGatewayUrl } from '../../../client/src/client-config.js';
import { ClientError, ClientErrors } from '../../../client/src/errors.js';
import { formatSessions, timeLeft } from '../../../client/src/session-table.js';
import type { SessionView } from '../../../client/src/gateway-api.js';

const SPEC = {
  synopsis: 'share ID USER rw|ro',
  summary: 'test',
  positionals: ['ID', 'USER', 'ROLE?'],
  options: {
    url: { flag: 'url', env: 'CLOUDTERM_URL', kind: 'string', help: 'gateway' },
    ro: { flag: 'ro', kind: 'boolean', help: 'read-only' },
  },
} as const;

const usageError = (pattern: RegExp) => (error: unknown) => error instanceof ClientError && error.kind === 'usage' && pattern.test(error.message);

describe('client command lines', () => {
  test('positionals and options in any order; the environment fills what the flags leave', () => {
    assert.deepEqual(parseCommand(SPEC, ['s1', '--url', 'https://a', 'bob', '--ro'], {}), { values: { url: 'https://a', ro: true }, args: ['s1', 'bob'] });
    assert.deepEqual(parseCommand(SPEC, ['s1', 'bob', 'rw'], { CLOUDTERM_URL: 'https://b' }).values, { url: 'https://b' });
  });

  test('a session id that begins with "-" is an argument; after "--" even one that begins with "--"', () => {
    assert.deepEqual(parseCommand(SPEC, ['-1Ye6eF1nVDm5Ctn', 'bob'], {}).args, ['-1Ye6eF1nVDm5Ctn', 'bob']);
    assert.deepEqual(parseCommand(SPEC, ['--ro', '--', '--Ye6eF1nVDm5Ctn', 'bob'], {}), { values: { ro: true }, args: ['--Ye6eF1nVDm5Ctn', 'bob'] });
  });

  test('every problem at once, with the usage', () => {
    assert.throws(() => parseCommand(SPEC, ['--nope'], {}), usageError(/unknown argument "--nope"; missing ID USER\nusage: cloudterm share ID USER rw\|ro \[options\]/));
    assert.throws(() => parseCommand(SPEC, ['a', 'b', 'c', 'd'], {}), usageError(/unexpected argument "d"/));
    assert.throws(() => parseCommand(SPEC, ['a', 'b', '--url'], {}), usageError(/--url needs a value/));
  });

  test('gateway URLs are normalised; anything else is refused with why', () => {
    assert.equal(normalizeGatewayUrl('https://Terminals.Example.com/'), 'https://terminals.example.com');
    assert.equal(normalizeGatewayUrl('http://127.0.0.1:8080/prefix/'), 'http://127.0.0.1:8080/prefix');
    assert.throws(() => normalizeGatewayUrl('terminals.example.com'), usageError(/is not a URL/));
    assert.throws(() => normalizeGatewayUrl('ftp://x'), usageError(/starts with https:\/\//));
    assert.throws(() => normalizeGatewayUrl('https://me:secret@x'), usageError(/no user or password/));
    assert.throws(() => normalizeGatewayUrl('https://x/?token=1'), usageError(/no query/));
  });

  test('the config directory follows XDG, ignoring a relative XDG_CONFIG_HOME', () => {
    assert.equal(configDirectory({ XDG_CONFIG_HOME: '/xdg', HOME: '/home/a' }), '/xdg/cloudterm');
    assert.equal(configDirectory({ XDG_CONFIG_HOME: 'relative', HOME: '/home/a' }), '/home/a/.config/cloudterm');
    assert.throws(() => configDirectory({}), usageError(/nowhere to keep/));
  });
});

describe('the sessions table', () => {
  const now = new Date('2026-12-04T18:00:00Z');
  test('time left, not an instant', () => {
    assert.equal(timeLeft('2026-12-04T18:59:30Z', now), 'in 59m');
    assert.equal(timeLeft('2026-12-04T20:05:00Z', now), 'in 2h5m');
    assert.equal(timeLeft('2026-12-06T19:00:00Z', now), 'in 2d1h');
    assert.equal(timeLeft('2026-12-04T18:00:30Z', now), 'in 30s');
    assert.equal(timeLeft('2026-12-04T17:00:00Z', now), 'expired');
  });

  test('aligned columns; an empty list says how to start one', () => {
    const session = (id: string, name: string, attached: number | null): SessionView => ({
      id, name, owner: 'alice', tenant: 'local', role: 'owner', state: 'running', createdAt: '', expiresAt: '2026-12-04T19:00:00Z', shares: {}, recorded: false, attached,
    });
    assert.equal(
      formatSessions([session('abc', 'a long name', 2), session('d', 'x', null)], now),
      'NAME         ID   TENANT  ROLE   STATE    ATTACHED  EXPIRES\na long name  abc  local   owner  running  2         in 1h0m\nx            d    local   owner  running  -         in 1h0m\n',
    );
    assert.match(formatSessions([], now), /cloudterm new --attach/);
  });
});

test('every exit status of the client is in docs/client.md', () => {
  const doc = readFileSync('docs/client.md', 'utf8');
  for (const [kind, { exit }] of Object.entries(ClientErrors)) {
    assert.match(doc, new RegExp(`\\| ${exit} \\| \`${kind}\` \\|`), `${kind} (${exit}) is documented`);
  }
});
