import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import bcrypt from 'bcrypt';
import { HtpasswdError, loadHtpasswd, parseHtpasswd } from '../../../gateway/src/auth/htpasswd.js';
import { ConfigError } from '../../../core/src/config/options.js';

const hash = bcrypt.hashSync('secret-password', 4);
const body = hash.slice(4);

/** What apache2-utils' htpasswd writes for user `u`, password `p`, with the given scheme flag. */
function htpasswdLine(flag: string): string {
  return execFileSync('/usr/bin/htpasswd', [flag, '-b', '-n', 'u', 'p'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
}

function parseError(text: string): HtpasswdError {
  try {
    parseHtpasswd(text, 'users.htpasswd');
  } catch (error) {
    assert.ok(error instanceof HtpasswdError);
    return error;
  }
  assert.fail('the file was accepted');
}

test('reads bcrypt users, skipping comments and blank lines, with any bcrypt prefix and CRLF endings', () => {
  const text = ['# team accounts', '', `alice:${hash}`, '   ', `  # indented comment`, `bob:$2y$${body}`, `carol.d@example.com:$2a$${body}`, ''].join('\r\n');
  const users = parseHtpasswd(text, 'users.htpasswd');
  assert.deepEqual([...users.keys()], ['alice', 'bob', 'carol.d@example.com']);
  assert.equal(users.get('alice'), hash);
  assert.equal(users.get('bob'), `$2y$${body}`);
});

test('an empty file has no users', () => {
  assert.equal(parseHtpasswd('', 'users.htpasswd').size, 0);
  assert.equal(parseHtpasswd('# nobody yet\n', 'users.htpasswd').size, 0);
});

test('accepts what `htpasswd -B` writes', () => {
  const line = execFileSync('/usr/bin/htpasswd', ['-B', '-C', '5', '-b', '-n', 'alice', 'pass'], { encoding: 'utf8' });
  const users = parseHtpasswd(line, 'users.htpasswd');
  assert.match(users.get('alice') ?? '', /^\$2y\$05\$/);
});

test('refuses every non-bcrypt scheme htpasswd can write, naming file, line and scheme, never the hash', () => {
  const lines = {
    md5: htpasswdLine('-m').replace(/^u:/, 'md5user:'),
    sha: htpasswdLine('-s').replace(/^u:/, 'shauser:'),
    crypt: htpasswdLine('-d').replace(/^u:/, 'cryptuser:'),
    plain: 'plainuser:hunter2hunter2',
    sha512: 'shacrypt:$6$saltsalt$' + 'x'.repeat(86),
  };
  const error = parseError([`ok:${hash}`, lines.md5, lines.sha, lines.crypt, lines.plain, lines.sha512].join('\n'));
  assert.equal(error.problems.length, 5, 'every bad line is reported, not only the first');
  assert.match(error.problems[0] ?? '', /^users\.htpasswd:2: user "md5user": MD5 \(\$apr1\$\) hashes are refused/);
  assert.match(error.problems[1] ?? '', /^users\.htpasswd:3: user "shauser": SHA-1/);
  assert.match(error.problems[2] ?? '', /^users\.htpasswd:4: user "cryptuser": DES crypt/);
  assert.match(error.problems[3] ?? '', /^users\.htpasswd:5: user "plainuser": not a bcrypt hash/);
  assert.match(error.problems[4] ?? '', /^users\.htpasswd:6: user "shacrypt": crypt\(3\)/);
  for (const line of Object.values(lines)) {
    const secret = line.slice(line.indexOf(':') + 1);
    assert.ok(!error.message.includes(secret), `the message quotes a hash or password: ${secret}`);
  }
  assert.ok(!error.message.includes('hunter2'));
});

test('reports duplicate users with both line numbers', () => {
  const error = parseError(`alice:${hash}\nbob:${hash}\n\nalice:${hash}\n`);
  assert.deepEqual(error.problems, ['users.htpasswd:4: user "alice" is listed twice (first on line 1)']);
});

test('reports malformed lines without echoing them', () => {
  const error = parseError(['my-password-typed-here', `bad user:${hash}`, 'dave:', `erin:$2b$${body.slice(0, -1)}`, `frank:$2b$03${body.slice(2)}`].join('\n'));
  assert.deepEqual(error.problems, [
    'users.htpasswd:1: expected "user:hash"',
    'users.htpasswd:2: the user name must be 1-64 of A-Z a-z 0-9 . _ @ -',
    'users.htpasswd:3: user "dave": no hash; only bcrypt is accepted: make one with `cloudterm hash-password` or `htpasswd -B`',
    'users.htpasswd:4: user "erin": malformed bcrypt hash',
    'users.htpasswd:5: user "frank": the bcrypt cost must be 4-31, got 3',
  ]);
  assert.ok(!error.message.includes('my-password-typed-here'));
  assert.match(error.message, /^users\.htpasswd: 5 problems:\n {2}- users\.htpasswd:1:/);
});

test('loadHtpasswd reads a file and names its path in errors', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'cloudterm-htpasswd-'));
  try {
    const good = join(dir, 'users.htpasswd');
    await writeFile(good, `alice:${hash}\n`);
    assert.deepEqual([...(await loadHtpasswd(good)).keys()], ['alice']);
    const bad = join(dir, 'bad.htpasswd');
    await writeFile(bad, 'alice:{SHA}abc\n');
    await assert.rejects(loadHtpasswd(bad), (error: unknown) => error instanceof HtpasswdError && error.problems[0]?.startsWith(`${bad}:1: `) === true);
    const missing = join(dir, 'missing');
    await assert.rejects(loadHtpasswd(missing), (error: unknown) => error instanceof ConfigError && error.problems[0] === `--users-file ${missing}: no such file`);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
