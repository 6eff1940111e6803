// The `cloudterm` command as a user runs it: hash-password, and clear errors for bad
// configuration (every problem at once, exit code 2) instead of a stack trace.
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { chmod, chown, cp, mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import bcrypt from 'bcrypt';
import { createServer } from 'node:net';
import { once } from 'node:events';
import { SELF_COMMAND, startGatewayFixture } from '../helpers/gateway-fixture.js';
import { generateSigningKeyPair } from '../../core/src/keys/index.js';

async function cloudterm(
  args: string[],
  stdin = '',
  nodeFlags: string[] = [],
  self: readonly string[] = SELF_COMMAND,
): Promise<{ code: number; stdout: string; stderr: string }> {
  const [command, ...prefix] = self;
  const child = spawn(command!, [...nodeFlags, ...prefix, ...args], { stdio: ['pipe', 'pipe', 'pipe'], env: { PATH: process.env.PATH, HOME: tmpdir() } });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk));
  child.stdin.end(stdin);
  const code = await new Promise<number>((resolve) => child.on('exit', (exitCode) => resolve(exitCode ?? -1)));
  return { code, stdout, stderr };
}

describe('cloudterm command', () => {
  test('hash-password prints an htpasswd line whose hash verifies the password', async () => {
    const { code, stdout } = await cloudterm(['hash-password', '--user', 'bob'], 'a long enough password\n');
    assert.equal(code, 0);
    const [user, hash] = stdout.trim().split(':');
    assert.equal(user, 'bob');
    assert.match(hash!, /^\$2b\$12\$/);
    assert.ok(await bcrypt.compare('a long enough password', hash!));
    assert.ok(!(await bcrypt.compare('another password', hash!)));
  });

  test('hash-password refuses a short password, one longer than bcrypt reads, and a bad user name', async () => {
    const short = await cloudterm(['hash-password'], 'short\n');
    assert.equal(short.code, 2);
    assert.match(short.stderr, /at least 8 characters/);
    const badUser = await cloudterm(['hash-password', '--user', 'no spaces:please'], 'long enough password\n');
    assert.equal(badUser.code, 2);
    // 73 bytes in 37 characters: the limit is bcrypt's, in bytes.
    const long = await cloudterm(['hash-password'], `${'é'.repeat(36)}a\n`);
    assert.equal(long.code, 2);
    assert.match(long.stderr, /at most 72 bytes/);
    assert.equal((await cloudterm(['hash-password'], `${'é'.repeat(36)}\n`)).code, 0, '72 bytes are fine');
  });

  test('an unknown command or flag: exit 2 with usage, not a stack trace', async () => {
    const unknown = await cloudterm(['frobnicate']);
    assert.equal(unknown.code, 2);
    assert.match(unknown.stderr, /unknown command "frobnicate"/);
    const flag = await cloudterm(['agent', '--session-id', 's', '--public-key', 'x', '--nope']);
    assert.equal(flag.code, 2);
    assert.match(flag.stderr, /unknown argument "--nope"/);
    assert.doesNotMatch(flag.stderr, /\n\s+at /, 'no stack trace');
  });

  test('every configuration problem is reported at once', async () => {
    const { code, stderr } = await cloudterm(['gateway', '--listen', 'nowhere', '--metrics-listen', 'host:port', '--idle-timeout', 'soon', '--oidc-issuer', 'https://idp', '--proxy-core', 'fast']);
    assert.equal(code, 2);
    assert.match(stderr, /--listen/);
    assert.match(stderr, /--metrics-listen/);
    assert.match(stderr, /--proxy-core must be native or js/);
    assert.match(stderr, /--idle-timeout must be a whole number/);
    assert.match(stderr, /OIDC needs all of/);
    assert.match(stderr, /--token-key-file/);
  });

  test('a gateway whose addons were never built: exit 2 naming each; without the splice alone, --proxy-core js starts', async () => {
    // A copy of the sources with no build/ beside them, as after `npm ci --ignore-scripts`.
    const root = await mkdtemp(join(tmpdir(), 'cloudterm-unbuilt-'));
    for (const part of ['core', 'agent', 'gateway', 'cli']) {
      await cp(join(process.cwd(), part, 'src'), join(root, part, 'src'), { recursive: true });
    }
    await symlink(join(process.cwd(), 'node_modules'), join(root, 'node_modules'));
    const self = [process.execPath, '--import', 'tsx', join(root, 'cli', 'src', 'main.ts')];
    const refused = await cloudterm(['local', '--listen', '127.0.0.1:0', '--data-dir', join(root, 'data')], '', [], self);
    assert.equal(refused.code, 2, refused.stderr);
    assert.match(refused.stderr, /--proxy-core native: build\/Release\/fd_splice\.node is not built \(npm ci builds it.*\); or run with --proxy-core js/);
    assert.match(refused.stderr, /terminals: the PTY reader: build\/Release\/pty_reader\.node is not built \(npm ci builds it/);
    assert.doesNotMatch(refused.stderr, /\n\s+at /, 'no stack trace');
    const agent = await cloudterm(['agent', '--session-id', 's', '--public-key-file', join(root, 'none.pem')], '', [], self);
    assert.equal(agent.code, 2, agent.stderr);
    assert.match(agent.stderr, /the PTY reader: build\/Release\/pty_reader\.node is not built/);

    // The terminals' addon, without the splice's: the JavaScript proxy core still serves.
    await mkdir(join(root, 'build', 'Release'), { recursive: true });
    await cp(join(process.cwd(), 'build', 'Release', 'pty_reader.node'), join(root, 'build', 'Release', 'pty_reader.node'));
    const [command, ...prefix] = self;
    const started = spawn(command!, [...prefix, 'local', '--listen', '127.0.0.1:0', '--data-dir', join(root, 'data'), '--proxy-core', 'js'], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { PATH: process.env.PATH, HOME: root },
    });
    let log = '';
    started.stdout.on('data', (chunk: Buffer) => (log += chunk));
    try {
      while (!log.includes('Gateway listening') && started.exitCode === null) await new Promise((resolve) => setTimeout(resolve, 50));
      assert.match(log, /"proxyCore":"js".*"msg":"Gateway listening"|"msg":"Gateway listening".*"proxyCore":"js"/);
    } finally {
      started.kill('SIGTERM');
      await once(started, 'exit');
    }
  });

  test('key files that are missing, not keys, or not halves of one pair: all named at once, exit 2', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'cloudterm-cli-'));
    const [a, b] = await Promise.all([generateSigningKeyPair(), generateSigningKeyPair()]);
    const file = async (name: string, text: string) => {
      await writeFile(join(dir, name), text);
      return join(dir, name);
    };
    const usersFile = await file('users.htpasswd', `alice:${await bcrypt.hash('alice-password', 4)}\n`);
    const { code, stderr } = await cloudterm([
      'gateway', '--listen', '127.0.0.1:0', '--data-dir', dir, '--users-file', usersFile,
      '--token-key-file', join(dir, 'missing.key'),
      '--token-public-key-file', await file('garbage.pub', 'not a key\n'),
      '--attach-key-file', await file('a.key', a.privateKeyPem),
      '--attach-public-key-file', await file('b.pub', b.publicKeyPem),
    ]);
    assert.equal(code, 2, stderr);
    assert.doesNotMatch(stderr, /\n\s+at /, 'no stack trace');
    assert.match(stderr, /--token-key-file .*missing\.key: no such file/);
    assert.match(stderr, /--token-public-key-file .*garbage\.pub: not an ES256 public key/);
    assert.match(stderr, /--attach-public-key-file .*b\.pub is not the public key of --attach-key-file .*a\.key/);
  });

  test('missing users and tenants files: both named at once, exit 2, no stack trace', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'cloudterm-cli-'));
    const pair = await generateSigningKeyPair();
    await writeFile(join(dir, 'k.key'), pair.privateKeyPem);
    await writeFile(join(dir, 'k.pub'), pair.publicKeyPem);
    const keys = ['--token-key-file', 'k.key', '--token-public-key-file', 'k.pub', '--attach-key-file', 'k.key', '--attach-public-key-file', 'k.pub'].map((arg) =>
      arg.startsWith('k.') ? join(dir, arg) : arg,
    );
    const { code, stderr } = await cloudterm(['gateway', '--listen', '127.0.0.1:0', '--data-dir', dir, ...keys, '--users-file', join(dir, 'users'), '--tenants-file', join(dir, 'tenants.json')]);
    assert.equal(code, 2, stderr);
    assert.match(stderr, /--users-file .*users: no such file/);
    assert.match(stderr, /--tenants-file .*tenants\.json: no such file/);
    assert.doesNotMatch(stderr, /\n\s+at /, 'no stack trace');
  });

  test('unix socket paths too long to work are refused at start, not cut short', async () => {
    // Linux takes 107 bytes; libuv would silently cut a longer path, and two terminals' sockets
    // could become one file.
    const longDir = join(await mkdtemp(join(tmpdir(), 'cloudterm-cli-')), 'd'.repeat(80));
    const local = await cloudterm(['local', '--listen', '127.0.0.1:0', '--data-dir', longDir]);
    assert.equal(local.code, 2, local.stderr);
    assert.match(local.stderr, /--data-dir .* is too long for the terminals' unix sockets \(\d+ bytes each; at most 107 work\): choose one of at most \d+ bytes/);
    assert.doesNotMatch(local.stderr, /password/, 'no admin kept from a start that failed');
    assert.equal(existsSync(join(longDir, 'users.htpasswd')), false);
    const agent = await cloudterm(['agent', '--listen', `unix:${join(longDir, 'agent.sock')}`, '--session-id', 's1', '--public-key-file', '/dev/null']);
    assert.equal(agent.code, 2, agent.stderr);
    assert.match(agent.stderr, /--listen: the unix socket path is \d+ bytes long; at most 107 work/);
  });

  test('a data directory that cannot be made is named at start; one under /proc does not hang the start', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'cloudterm-cli-'));
    await writeFile(join(dir, 'a-file'), '');
    const underFile = await cloudterm(['local', '--listen', '127.0.0.1:0', '--data-dir', join(dir, 'a-file', 'data')]);
    assert.equal(underFile.code, 2, underFile.stderr);
    assert.match(underFile.stderr, /--data-dir .*a-file\/data: cannot use .* \(a part of the path is a file, not a directory\)/);
    // Node 20's recursive mkdir spins forever on such a path; the start must end, saying why.
    const proc = await cloudterm(['local', '--listen', '127.0.0.1:0', '--data-dir', '/proc/cloudterm-data']);
    assert.equal(proc.code, 2, proc.stderr);
    assert.match(proc.stderr, /--data-dir \/proc\/cloudterm-data: cannot create/);
    assert.doesNotMatch(`${underFile.stderr}${proc.stderr}`, /\n\s+at /, 'no stack trace');
  });

  test('a --record-dir that is a file, or under one: exit 2 naming it, before the gateway listens', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'cloudterm-cli-'));
    const file = join(dir, 'not-a-directory');
    await writeFile(file, '');
    const isFile = await cloudterm(['local', '--listen', '127.0.0.1:0', '--data-dir', join(dir, 'data'), '--record-dir', file]);
    assert.equal(isFile.code, 2, isFile.stderr);
    assert.match(isFile.stderr, /--record-dir .*not-a-directory: .*not-a-directory is a file, not a directory/);
    const under = await cloudterm(['local', '--listen', '127.0.0.1:0', '--data-dir', join(dir, 'data'), '--record-dir', join(file, 'below')]);
    assert.equal(under.code, 2, under.stderr);
    assert.match(under.stderr, /--record-dir .*below: cannot use .*below \(a part of the path is a file, not a directory\)/);
    assert.doesNotMatch(`${isFile.stderr}${under.stderr}`, /\n\s+at /, 'no stack trace');
    assert.doesNotMatch(`${isFile.stderr}${under.stderr}`, /running at/, 'the gateway never served');
  });

  test('an agent asked to record where it cannot: exit 2 before any program runs', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'cloudterm-cli-'));
    const pair = await generateSigningKeyPair();
    await writeFile(join(dir, 'attach.pub'), pair.publicKeyPem);
    await writeFile(join(dir, 'old.cast'), 'a recording kept\n');
    const agent = (record: string) =>
      cloudterm(['agent', '--listen', '127.0.0.1:0', '--session-id', 's1', '--public-key-file', join(dir, 'attach.pub'), '--record', record, '--', '/bin/sh', '-c', `touch ${join(dir, 'ran')}`]);
    const missingDir = await agent(join(dir, 'no-such-dir', 'x.cast'));
    assert.equal(missingDir.code, 2, missingDir.stderr);
    assert.match(missingDir.stderr, /--record .*x\.cast: its directory does not exist/);
    const existing = await agent(join(dir, 'old.cast'));
    assert.equal(existing.code, 2, existing.stderr);
    assert.match(existing.stderr, /--record .*old\.cast: the file exists \(a recording never overwrites one\)/);
    assert.equal(await readFile(join(dir, 'old.cast'), 'utf8'), 'a recording kept\n');
    assert.equal(existsSync(join(dir, 'ran')), false, 'the program never ran');
  });

  test('a program that cannot run, or a --cwd that is not a directory: exit 2 naming each, for the agent and the gateway', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'cloudterm-cli-'));
    const pair = await generateSigningKeyPair();
    await writeFile(join(dir, 'attach.pub'), pair.publicKeyPem);
    await writeFile(join(dir, 'not-executable'), '#!/bin/sh\n');
    const agent = (cwd: string, program: string) =>
      cloudterm(['agent', '--listen', '127.0.0.1:0', '--session-id', 's1', '--public-key-file', join(dir, 'attach.pub'), '--cwd', cwd, '--', program]);
    const missing = await agent(join(dir, 'nowhere'), '/no/such/shell');
    assert.equal(missing.code, 2, missing.stderr);
    assert.match(missing.stderr, /the program \/no\/such\/shell: no such file/);
    assert.match(missing.stderr, /--cwd .*nowhere: no such directory/);
    assert.match((await agent(dir, 'no-such-program-anywhere')).stderr, /the program no-such-program-anywhere: not found on PATH/);
    assert.match((await agent(dir, join(dir, 'not-executable'))).stderr, /not-executable: permission denied/);
    assert.match((await agent(dir, dir)).stderr, /: is a directory/);
    assert.match((await agent(join(dir, 'attach.pub'), 'sh')).stderr, /--cwd .*attach\.pub: not a directory/);

    const gateway = await cloudterm(['local', '--listen', '127.0.0.1:0', '--data-dir', dir, '--shell', '/no/such/shell -l']);
    assert.equal(gateway.code, 2, gateway.stderr);
    assert.match(gateway.stderr, /--shell: the program \/no\/such\/shell: no such file/);
    assert.doesNotMatch(`${missing.stderr}${gateway.stderr}`, /\n\s+at /, 'no stack trace');
  });

  test('a Redis URL of another scheme is refused (exit 2); an unreachable Redis is one line naming where, without its password', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'cloudterm-cli-'));
    const scheme = await cloudterm(['local', '--listen', '127.0.0.1:0', '--data-dir', dir, '--redis-url', 'http://127.0.0.1:6379']);
    assert.equal(scheme.code, 2, scheme.stderr);
    assert.match(scheme.stderr, /--redis-url must be redis:\/\//);
    const closed = createServer().listen(0, '127.0.0.1');
    await once(closed, 'listening');
    const { port } = closed.address() as { port: number };
    closed.close();
    const down = await cloudterm(['local', '--listen', '127.0.0.1:0', '--data-dir', dir, '--redis-url', `redis://:s3cret-pass@127.0.0.1:${port}`, '--log-level', 'error']);
    assert.equal(down.code, 1, down.stderr);
    assert.match(down.stderr, new RegExp(`cloudterm: cannot connect to Redis at 127\\.0\\.0\\.1:${port}: is it running`));
    assert.doesNotMatch(`${down.stdout}${down.stderr}`, /s3cret-pass/, 'the password appears nowhere');
    assert.doesNotMatch(down.stderr, /\n\s+at /, 'no stack trace');
  });

  test("an agent given something that is not the gateway's public key: exit 2, no stack trace", async () => {
    const dir = await mkdtemp(join(tmpdir(), 'cloudterm-cli-'));
    await writeFile(join(dir, 'not-a-key.pub'), 'garbage\n');
    const { code, stderr } = await cloudterm(['agent', '--listen', '127.0.0.1:0', '--session-id', 's1', '--public-key-file', join(dir, 'not-a-key.pub')]);
    assert.equal(code, 2, stderr);
    assert.match(stderr, /the gateway's public key .*not an ES256 public key in PEM/);
    assert.doesNotMatch(stderr, /\n\s+at /, 'no stack trace');
  });

  test('OIDC in a process without WebAssembly (--lite-mode) is refused at start, not at the first token', async () => {
    const oidc = ['--oidc-issuer', 'https://idp', '--oidc-audience', 'cloudterm', '--oidc-jwks-url', 'https://idp/jwks'];
    const { code, stderr } = await cloudterm(['gateway', ...oidc], '', ['--lite-mode']);
    assert.equal(code, 2);
    assert.match(stderr, /OIDC needs WebAssembly .* without --lite-mode or --jitless/);
    const usual = await cloudterm(['gateway', ...oidc]);
    assert.doesNotMatch(usual.stderr, /WebAssembly/, 'a normal process has it');
  });

  test('a port already in use: one clear line, no stack trace', async () => {
    const blocker = createServer().listen(0, '127.0.0.1');
    await once(blocker, 'listening');
    const { port } = blocker.address() as { port: number };
    const dir = await mkdtemp(join(tmpdir(), 'cloudterm-cli-'));
    const { code, stderr } = await cloudterm(['local', '--listen', `127.0.0.1:${port}`, '--data-dir', dir]);
    blocker.close();
    assert.equal(code, 1);
    assert.match(stderr, new RegExp(`127\\.0\\.0\\.1:${port} is already in use`));
    assert.doesNotMatch(stderr, /\n\s+at /, 'no stack trace');
    // No admin was kept whose password was never shown: the next start makes one and shows it.
    assert.doesNotMatch(stderr, /password/);
    assert.equal(existsSync(join(dir, 'users.htpasswd')), false);
  });

  test("a second gateway on a running one's data directory: exit 2 naming the first, whose sessions stay", async () => {
    const dir = await mkdtemp(join(tmpdir(), 'cloudterm-cli-'));
    const first = await startGatewayFixture({ dataDir: dir });
    try {
      const alice = await first.login('alice');
      const { body } = await alice.request<{ id: string }>('POST', '/api/sessions', {});
      const { code, stderr } = await cloudterm(['local', '--listen', '127.0.0.1:0', '--data-dir', dir]);
      assert.equal(code, 2);
      assert.match(stderr, new RegExp(`another gateway \\(pid ${process.pid}\\) keeps its sessions in ${dir}/sessions\\.json: stop it, or start this one with another --data-dir`));
      assert.doesNotMatch(stderr, /\n\s+at /, 'no stack trace');
      const listed = await alice.request<{ sessions: { id: string }[] }>('GET', '/api/sessions');
      assert.deepEqual(listed.body.sessions.map((s) => s.id), [body.id], "the first gateway's session is still there");
      const snapshot = JSON.parse(await readFile(join(dir, 'sessions.json'), 'utf8')) as { sessions: { id: string }[] };
      assert.deepEqual(snapshot.sessions.map((s) => s.id), [body.id], 'and still in its snapshot');
    } finally {
      await first.stop();
    }
    assert.equal(existsSync(join(dir, 'sessions.json.lock')), false, 'a gateway that stops lets go of its data directory');
  });

  test('a malformed users file stops the gateway at start, naming the line', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'cloudterm-cli-'));
    const usersFile = join(dir, 'users.htpasswd');
    await writeFile(usersFile, `alice:${await bcrypt.hash('alice-password', 4)}\nbob:$apr1$abc$def\nnot a line\n`);
    const { code, stderr } = await cloudterm(['local', '--listen', '127.0.0.1:0', '--data-dir', dir, '--users-file', usersFile]);
    assert.equal(code, 2);
    assert.doesNotMatch(stderr, /\n\s+at /, 'no stack trace');
    assert.match(stderr, /users\.htpasswd:2/);
    assert.match(stderr, /users\.htpasswd:3/);
    assert.doesNotMatch(stderr, /\$apr1\$abc/, 'the hash is not echoed');
  });
});

test('an agent run as a uid with no passwd entry (a pod with an arbitrary runAsUser) starts, its shell in $HOME', async (t) => {
  assert.equal(process.getuid?.(), 0, 'this test runs as root, to start the agent as another uid');
  const uid = 54_321;
  assert.doesNotMatch(await readFile('/etc/passwd', 'utf8'), new RegExp(`^[^:]*:[^:]*:${uid}:`, 'm'), `uid ${uid} must have no passwd entry`);
  const dir = await mkdtemp(join(tmpdir(), 'cloudterm-nouser-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const home = join(dir, 'home');
  await mkdir(home);
  await chown(home, uid, uid);
  await chmod(dir, 0o755);
  const pair = await generateSigningKeyPair();
  await writeFile(join(dir, 'attach.pub'), pair.publicKeyPem, { mode: 0o644 });
  const [command, ...prefix] = SELF_COMMAND;
  const agent = spawn(command!, [...prefix, 'agent', '--listen', '127.0.0.1:0', '--session-id', 's1', '--public-key-file', join(dir, 'attach.pub'), '--', '/bin/sh', '-c', 'pwd > pwd.txt; sleep 30'], {
    uid,
    gid: uid,
    env: { PATH: process.env.PATH, HOME: home },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  t.after(() => agent.kill('SIGKILL'));
  let output = '';
  agent.stdout.on('data', (chunk: Buffer) => (output += chunk));
  agent.stderr.on('data', (chunk: Buffer) => (output += chunk));
  const exited = once(agent, 'exit');
  const deadline = Date.now() + 20_000;
  // The shell may write its file before the agent's log line has come through the pipe: wait for both.
  while (!(existsSync(join(home, 'pwd.txt')) && /Agent listening/.test(output)) && Date.now() < deadline && agent.exitCode === null) await sleep(50);
  assert.equal(agent.exitCode, null, `the agent exited: ${output}`);
  assert.match(output, /Agent listening/);
  assert.equal((await readFile(join(home, 'pwd.txt'), 'utf8')).trim(), home);
  agent.kill('SIGTERM');
  await exited;
});
