// `cloudterm attach` as a user lives it: the real client in a real PTY, a real gateway in local
// mode, real agents. Each test checks what is on the outer terminal's screen, the exit status, and
// that the outer terminal's settings (`stty -a`) are what they were before the client ran.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { startGatewayFixture, type GatewayFixture, PASSWORDS } from '../../helpers/gateway-fixture.js';
import { makeClientHome, type ClientHome, type ClientTerminal } from '../../helpers/client-terminal.js';
import { ClientErrors } from '../../../client/src/index.js';

let gw: GatewayFixture;
let home: ClientHome;

/** A new session of alice's, by the client; its id. */
async function newSession(name: string): Promise<string> {
  const created = await home.run(['new', '--name', name]);
  assert.equal(created.code, 0, created.stderr);
  return created.stdout.trim();
}

/** Attaches in a fresh PTY and waits for the shell's prompt. */
async function attach(target: string, extra: string[] = [], size?: { cols: number; rows: number }, client: ClientHome = home): Promise<ClientTerminal> {
  const terminal = client.terminal(['attach', target, ...extra], size);
  await terminal.waitFor(/attached to .*\r\n[^]*[$#] $/, { timeoutMs: 20_000 });
  return terminal;
}

async function assertSane(terminal: ClientTerminal, status: number): Promise<void> {
  const finished = await terminal.finished();
  assert.equal(finished.status, status, `exit status; the screen showed ${JSON.stringify(terminal.screen.slice(-500))}`);
  assert.equal(finished.sttyAfter, finished.sttyBefore, 'the terminal is left as it was found');
}

before(async () => {
  gw = await startGatewayFixture({ revocationCheckMs: 200 });
  home = await makeClientHome();
  const login = await home.run(['login', gw.url, '--user', 'alice'], `${PASSWORDS.alice}\n`);
  assert.equal(login.code, 0, login.stderr);
});
after(async () => {
  await home?.remove();
  await gw?.stop();
});

describe('cloudterm attach', () => {
  test('type a command and see its output; `exit 3` inside is the exit status', async () => {
    await newSession('echo');
    const terminal = await attach('echo');
    terminal.type('echo hello from $((40 + 2))\r');
    await terminal.waitFor('hello from 42\r\n');
    terminal.type('exit 3\r');
    await assertSane(terminal, 3);
  });

  test('resizing the outer terminal resizes the session', async () => {
    await newSession('resize');
    const terminal = await attach('resize', [], { cols: 90, rows: 30 });
    terminal.type('stty size\r');
    await terminal.waitFor('30 90\r\n');
    const mark = terminal.screen.length;
    terminal.resize(120, 40);
    // SIGWINCH reaches the client, which sends the new size; the shell sees it.
    await new Promise((r) => setTimeout(r, 300));
    terminal.type('stty size\r');
    await terminal.waitFor('40 120\r\n', { from: mark });
    terminal.type('exit\r');
    await assertSane(terminal, 0);
  });

  test('the detach key leaves the session running; reattaching shows what it printed meanwhile', async () => {
    const id = await newSession('detach');
    const first = await attach(id);
    first.type('sleep 1; echo "printed while away: $((6 * 7))"\r');
    await first.waitFor('sleep 1');
    first.type('\x1dd');
    await assertSane(first, ClientErrors.detached.exit);
    assert.match(first.screen, /detached; the session runs on: cloudterm attach /);
    assert.doesNotMatch(first.screen, /printed while away: 42/, 'detached before the output');

    const listed = await home.run(['sessions']);
    assert.match(listed.stdout, new RegExp(`detach\\s+${id}\\s+local\\s+owner\\s+running`));
    await new Promise((r) => setTimeout(r, 1200));
    const second = await attach(id);
    await second.waitFor('printed while away: 42\r\n');
    // Ctrl-] twice sends one Ctrl-] (here to `od`, which shows it as 035), not a detach.
    second.type('od -c\r');
    await second.waitFor('od -c\r\n');
    second.type('\x1d\x1d\r\x04');
    await second.waitFor('035');
    second.type('exit 0\r');
    await assertSane(second, 0);
  });

  test('--detach-keys changes the sequence', async () => {
    await newSession('keys');
    const terminal = await attach('keys', ['--detach-keys', 'ctrl-x,q']);
    assert.match(terminal.screen, /Ctrl-X q detaches/);
    // The default sequence is now just keys for the shell (Ctrl-U drops them from its line).
    terminal.type('\x1dd\x15');
    terminal.type('echo still $((1 + 1))here\r');
    await terminal.waitFor('still 2here\r\n');
    terminal.type('\x18q');
    await assertSane(terminal, ClientErrors.detached.exit);
  });

  test('--ro cannot type; what others type is seen', async () => {
    await newSession('viewer');
    const writer = await attach('viewer');
    const viewer = await attach('viewer', ['--ro']);
    assert.match(viewer.screen, /read-only/);
    viewer.type('echo typed-by-viewer\r');
    await viewer.waitFor('read-only: your keys are not sent');
    writer.type('echo typed-by-writer\r');
    await viewer.waitFor('typed-by-writer\r\n');
    assert.doesNotMatch(writer.screen, /typed-by-viewer/, 'the viewer\'s keys never reached the shell');
    // `cloudterm sessions` counts both attachments, read-only included.
    const listed = await home.run(['sessions']);
    assert.match(listed.stdout, /^NAME\s+ID\s+TENANT\s+ROLE\s+STATE\s+ATTACHED\s+EXPIRES$/m);
    assert.match(listed.stdout, /^viewer\s+\S+\s+local\s+owner\s+running\s+2\s+in /m);
    viewer.type('\x1dd');
    await assertSane(viewer, ClientErrors.detached.exit);
    writer.type('exit\r');
    await assertSane(writer, 0);
  });

  test('a read-only share: the gateway grants ro, the client says so and sends nothing', async () => {
    const id = await newSession('shared');
    const shared = await home.run(['share', id, 'bob', 'ro']);
    assert.equal(shared.code, 0, shared.stderr);
    const bob = await makeClientHome();
    try {
      assert.equal((await bob.run(['login', gw.url, '--user', 'bob'], `${PASSWORDS.bob}\n`)).code, 0);
      const viewer = await attach(id, [], undefined, bob);
      assert.match(viewer.screen, /attached to shared \([^)]+\), read-only/);
      viewer.type('echo from-bob\r');
      await viewer.waitFor('read-only: your keys are not sent');
      viewer.type('\x1dd');
      await assertSane(viewer, ClientErrors.detached.exit);
    } finally {
      await bob.remove();
    }
  });

  test('a viewer that fell more than the ring behind is shown the gap, then the output goes on', async () => {
    const id = await newSession('gap');
    const writer = await (await gw.login('alice')).attach(id);
    const viewer = await attach(id, ['--ro']);
    // The viewer's terminal stops being read: its writes block, it reads no more, and the agent
    // runs on for the writer past everything its ring (1 MiB) and the sockets' buffers hold for it.
    // Base64 of random bytes, not a's: the client compresses, and 40 MB of a's deflate to so little
    // that the sockets' buffers would hold all of it.
    viewer.pty.pause();
    writer.type('head -c 30000000 /dev/urandom | base64 -w 0; echo; echo "end $((6 * 7))"\r');
    // (Counted, not searched: the writer's 40 MB are not read back as text.)
    await writer.waitFor(() => writer.received > 40_000_000, 'all of the output, at the writer', 60_000);
    viewer.pty.resume();
    const shown = await viewer.waitFor(/end 42\r\n/, { timeoutMs: 30_000 });
    // One gap or several: a viewer that reads a little and falls behind again is told each time.
    const GAP = /\r\n\[cloudterm\] (\d+) bytes of output are missing here: the session no longer held them\r\n/g;
    const missing = [...shown.matchAll(GAP)].map((gap) => Number(gap[1]));
    assert.ok(missing.length > 0, 'the gap is shown');
    const shownChars = (shown.replace(GAP, '').match(/[A-Za-z0-9+/]/g) ?? []).length;
    const missingChars = missing.reduce((a, b) => a + b, 0);
    // Every byte of the 40 MB is either shown or counted in a gap (the rest of the screen holds
    // a few more such characters, in the prompt's echo of the command, hence the small slack).
    assert.ok(Math.abs(shownChars + missingChars - 40_000_000) < 200, `${shownChars} shown + ${missing.join(' + ')} missing`);
    viewer.type('\x1dd');
    await assertSane(viewer, ClientErrors.detached.exit);
    await writer.close();
  });

  test('the session deleted while attached: the client says it is gone', async () => {
    const id = await newSession('doomed');
    const terminal = await attach(id);
    const removed = await home.run(['rm', id]);
    assert.equal(removed.code, 0, removed.stderr);
    // Ending a session hangs up its program first (then forgets it): the client passes the
    // program's end on, 128 + SIGHUP, saying so — or, if the gateway's close came first, gone.
    const finished = await terminal.finished();
    assert.equal(finished.sttyAfter, finished.sttyBefore);
    if (finished.status === 128 + 1) assert.match(terminal.screen, /the session's program was ended by SIGHUP \(the session was ended/);
    else {
      assert.equal(finished.status, ClientErrors.gone.exit, terminal.screen.slice(-300));
      assert.match(terminal.screen, /the session was deleted or expired/);
    }
    const again = await home.run(['attach', id]);
    assert.equal(again.code, ClientErrors.gone.exit);
    assert.match(again.stderr, /no session/);
  });

  test('SIGTERM to the client: the terminal is restored, the session runs on', async () => {
    const id = await newSession('terminated');
    const terminal = await attach(id);
    process.kill(await terminal.clientPid(), 'SIGTERM');
    await assertSane(terminal, 128 + 15);
    const listed = await home.run(['sessions', '--json']);
    assert.ok((JSON.parse(listed.stdout) as Array<{ id: string }>).some((session) => session.id === id));
  });

  test('new --attach: a session at this terminal\'s size, attached at once', async () => {
    const terminal = home.terminal(['new', '--name', 'fresh', '--attach'], { cols: 100, rows: 33 });
    await terminal.waitFor(/attached to fresh \([^)]+\)[^]*[$#] $/, { timeoutMs: 20_000 });
    terminal.type('stty size\r');
    await terminal.waitFor('33 100\r\n');
    terminal.type('exit 4\r');
    await assertSane(terminal, 4);
  });

  test('a crash with the terminal in the client\'s raw mode: the terminal is still restored', async () => {
    // The client's own LocalTerminal, then an exception nothing catches (Node's crash path).
    const script = [
      "const { LocalTerminal } = await import('./client/src/attach/local-terminal.ts');",
      'const terminal = new LocalTerminal({ stdin: process.stdin, stdout: process.stdout, stderr: process.stderr, stop: new AbortController().signal, selfCommand: [] });',
      "terminal.enterRaw(); terminal.onInput(() => {});",
      "const { execFileSync } = await import('node:child_process');",
      "const stty = execFileSync('stty', ['-a'], { stdio: ['inherit', 'pipe', 'ignore'] }).toString();",
      "console.log(/-icanon/.test(stty) && /-opost/.test(stty) ? 'RAW NOW' : 'NOT RAW');",
      "setTimeout(() => { throw new Error('a bug'); }, 300);",
    ].join('\n');
    const terminal = home.terminal(['--import', 'tsx', '--input-type=module', '-e', script], undefined, [process.execPath]);
    await terminal.waitFor('RAW NOW');
    await assertSane(terminal, 1);
    assert.match(terminal.screen, /Error: a bug/);
  });

  test('no terminal at all: commands piped in, the output on stdout, the exit status passed on', async () => {
    const id = await newSession('piped');
    const piped = await home.run(['attach', id], 'echo "piped $((2 * 3))"; exit 6\n');
    assert.equal(piped.code, 6, piped.stderr);
    assert.match(piped.stdout, /piped 6\r\n/);
    assert.doesNotMatch(piped.stdout, /\[cloudterm\]/, 'the client\'s own lines go to stderr');
    assert.match(piped.stderr, /\[cloudterm\] attached to piped/);
  });

  test('the program killed by a signal: 128 + the signal', async () => {
    await newSession('killed');
    const terminal = await attach('killed');
    terminal.type('kill -9 $$\r');
    await assertSane(terminal, 128 + 9);
    assert.match(terminal.screen, /\[cloudterm\] the session's program was ended by SIGKILL\r\n/);
  });
});
