// A person at the page, in real Chromium, against a real gateway process (local mode) with real
// agents and shells: log in, open a terminal, type, resize, survive a gateway restart mid-output,
// watch a read-only share, rename a terminal and open it in a tab of its own, pick a tenant, follow a share changed under a watcher, wait for room on a full gateway, compress end to end (or not, by the flag), and see an idle session expire.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { ApiClient, PASSWORDS, writeUsersFile } from '../helpers/gateway-fixture.js';
import { freePort, startGatewayProcess, stopAllAgents, type GatewayProcess } from '../helpers/gateway-process.js';

const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'];

let browser: Browser;
const dataDirs: string[] = [];
const gateways: GatewayProcess[] = [];

before(async () => {
  browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: CHROMIUM_ARGS });
});
after(async () => {
  await browser?.close();
  for (const gateway of gateways) gateway.child.kill('SIGKILL');
  for (const dir of dataDirs) {
    stopAllAgents(dir);
    await rm(dir, { recursive: true, force: true });
  }
});

async function gatewayWith(args: string[] = []): Promise<{ start(): Promise<GatewayProcess>; url: string }> {
  const dataDir = await mkdtemp(join(tmpdir(), 'cloudterm-e2e-'));
  dataDirs.push(dataDir);
  const usersFile = await writeUsersFile(dataDir);
  const port = await freePort();
  return {
    url: `http://127.0.0.1:${port}`,
    start: async () => {
      const gateway = await startGatewayProcess({ port, dataDir, usersFile, args });
      gateways.push(gateway);
      return gateway;
    },
  };
}

async function logIn(url: string, user: string): Promise<Page> {
  const context = await browser.newContext({ viewport: { width: 1200, height: 800 } });
  const page = await context.newPage();
  await page.goto(url);
  await page.getByTestId('login-username').fill(user);
  await page.getByTestId('login-password').fill(PASSWORDS[user]!);
  await page.getByTestId('login-submit').click();
  await page.getByTestId('new-terminal').waitFor();
  return page;
}

// Page expressions are strings: this file is typechecked for Node, where `window` does not exist.
const probe = <T>(page: Page, expression: string) => page.evaluate(expression) as Promise<T>;
const lines = (page: Page) => probe<string[]>(page, 'window.cloudterm.lines()');
const connState = (page: Page) => probe<string>(page, 'window.cloudterm.state()');
const received = (page: Page) => probe<number>(page, 'window.cloudterm.received()');

async function waitForLine(page: Page, matcher: RegExp, timeoutMs = 15_000): Promise<string[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const current = await lines(page);
    if (current.some((line) => matcher.test(line))) return current;
    if (Date.now() > deadline) throw new Error(`no line matching ${matcher}; screen:\n${current.filter(Boolean).slice(-15).join('\n')}`);
    await page.waitForTimeout(100);
  }
}

async function waitForState(page: Page, states: string[], timeoutMs = 15_000): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const state = await connState(page);
    if (states.includes(state)) return state;
    if (Date.now() > deadline) throw new Error(`connection state ${state}, wanted ${states.join(' or ')}`);
    await page.waitForTimeout(100);
  }
}

/** Clicks "New terminal", waits until it is connected, and returns the session's id (from the URL). */
async function openNewTerminal(page: Page): Promise<string> {
  await page.getByTestId('new-terminal').click();
  await page.getByTestId('terminal').waitFor();
  await waitForState(page, ['connected']);
  return decodeURIComponent(/#\/s\/(.+)$/.exec(page.url())![1]!);
}

/** Types a command line as a person would: click the terminal, type, press Enter. */
async function run(page: Page, command: string): Promise<void> {
  await page.getByTestId('terminal').click();
  await page.keyboard.type(command);
  await page.keyboard.press('Enter');
}

/** Alice opens a terminal and shares it with bob (through the API, as alice), whose page opens it. */
async function aliceSharesWithBob(role: 'rw' | 'ro') {
  const site = await gatewayWith();
  const gateway = await site.start();
  const alice = await logIn(site.url, 'alice');
  const sessionId = await openNewTerminal(alice);
  const api = new ApiClient(site.url, null);
  await api.request('POST', '/api/login', { username: 'alice', password: PASSWORDS.alice });
  assert.equal((await api.request('PUT', `/api/sessions/${sessionId}/shares/bob`, { role })).status, 200);
  const bob = await logIn(site.url, 'bob');
  await bob.locator(`[data-session-id="${sessionId}"]`).getByTestId('session-open').click();
  await waitForState(bob, ['connected']);
  return { gateway, alice, bob, sessionId, api };
}

describe('the page, end to end', () => {
  test('log in, open a terminal, type, resize, and survive a gateway restart mid-output', async (t) => {
    const site = await gatewayWith();
    let gateway = await site.start();
    t.after(() => gateway.stop());
    const page = await logIn(site.url, 'alice');

    await page.getByTestId('new-terminal').click();
    await page.getByTestId('terminal').waitFor();
    await waitForState(page, ['connected']);

    await run(page, 'echo "hel""lo"');
    await waitForLine(page, /^hello$/);

    await run(page, 'stty size');
    const before = (await waitForLine(page, /^\d+ \d+$/)).filter((l) => /^\d+ \d+$/.test(l)).at(-1)!;
    await page.setViewportSize({ width: 760, height: 520 });
    await page.waitForTimeout(500);
    await run(page, 'clear; stty size');
    await page.waitForTimeout(300);
    const after = (await waitForLine(page, /^\d+ \d+$/)).filter((l) => /^\d+ \d+$/.test(l)).at(-1)!;
    assert.notEqual(after, before, `the terminal size followed the window (${before} → ${after})`);
    const [rowsBefore, colsBefore] = before.split(' ').map(Number);
    const [rowsAfter, colsAfter] = after.split(' ').map(Number);
    assert.ok(colsAfter! < colsBefore! && rowsAfter! < rowsBefore!, 'a smaller window gives fewer rows and columns');

    // Output under way when the gateway stops; the page reconnects to the new one and resumes.
    await run(page, 'clear; i=0; while [ $i -lt 1500 ]; do i=$((i+1)); echo "line-$i"; sleep 0.002; done; echo all-done');
    await waitForLine(page, /^line-200$/);
    const receivedBefore = await received(page);
    await gateway.stop();
    await waitForState(page, ['reconnecting', 'connecting']);
    gateway = await site.start();
    await waitForLine(page, /^all-done$/, 60_000);
    const numbered = (await lines(page)).filter((line) => /^line-\d+$/.test(line));
    assert.deepEqual(
      numbered,
      Array.from({ length: 1500 }, (_, i) => `line-${i + 1}`),
      'every line exactly once, in order, across the restart',
    );
    assert.ok((await received(page)) > receivedBefore);
    assert.equal(await connState(page), 'connected');

    // The expiry is shown, and Extend pushes it later.
    const sessionId = decodeURIComponent(/#\/s\/(.+)$/.exec(page.url())![1]!);
    const api = new ApiClient(site.url, null);
    await api.request('POST', '/api/login', { username: 'alice', password: PASSWORDS.alice });
    const expiresBefore = Date.parse((await api.request('GET', `/api/sessions/${sessionId}`)).body.expiresAt);
    assert.notEqual((await page.getByTestId('expiry').textContent())?.trim(), '');
    await page.getByTestId('extend').click();
    const deadline = Date.now() + 5000;
    let expiresAfter = expiresBefore;
    while (Date.now() < deadline && expiresAfter < expiresBefore + 30 * 60_000) {
      await page.waitForTimeout(100);
      expiresAfter = Date.parse((await api.request('GET', `/api/sessions/${sessionId}`)).body.expiresAt);
    }
    assert.ok(expiresAfter >= expiresBefore + 30 * 60_000, 'Extend moved the expiry by about an hour');
    await page.context().close();
  });

  test('a read-only share: bob watches alice type, cannot type himself', async (t) => {
    const { gateway, alice, bob } = await aliceSharesWithBob('ro');
    t.after(() => gateway.stop());
    await bob.getByTestId('readonly-badge').waitFor({ state: 'visible' });

    await run(bob, 'echo BOB-WAS-HERE');
    await run(alice, 'echo "ALICE-$((20+22))"');
    await waitForLine(bob, /^ALICE-42$/);
    await bob.waitForTimeout(300);
    assert.ok(!(await lines(alice)).some((line) => line.includes('BOB-WAS-HERE')), "bob's keys never reached the shell");
    assert.ok(!(await lines(bob)).some((line) => line.includes('BOB-WAS-HERE')));
    await alice.context().close();
    await bob.context().close();
  });

  test('alice renames her terminal in the list; bob, who only watches it, sees the new name and cannot rename it', async (t) => {
    const { gateway, alice, bob, sessionId } = await aliceSharesWithBob('ro');
    t.after(() => gateway.stop());
    await alice.getByTestId('back').click();
    const row = alice.locator(`[data-session-id="${sessionId}"]`);
    await row.getByTestId('session-name').click();
    await row.getByTestId('rename-input').fill('deploy box');
    await row.getByTestId('rename-input').press('Enter');
    await row.getByTestId('session-name').filter({ hasText: 'deploy box' }).waitFor();
    // Escape leaves the name as it was.
    await row.getByTestId('session-name').click();
    await row.getByTestId('rename-input').fill('never saved');
    await row.getByTestId('rename-input').press('Escape');
    await row.getByTestId('session-name').filter({ hasText: 'deploy box' }).waitFor();
    // Open is a link: a Ctrl+click puts the terminal in a tab of its own, beside the list.
    const tab = alice.context().waitForEvent('page');
    await row.getByTestId('session-open').click({ modifiers: ['Control'] });
    const second = await tab;
    await second.waitForLoadState('load');
    await waitForState(second, ['connected']);
    assert.equal(new URL(second.url()).hash, `#/s/${sessionId}`);
    assert.ok(await row.isVisible(), 'the list stays where it was');
    await second.close();

    await bob.getByTestId('back').click();
    const bobRow = bob.locator(`[data-session-id="${sessionId}"]`);
    await bobRow.getByTestId('session-name').filter({ hasText: 'deploy box' }).waitFor();
    await bobRow.getByTestId('session-name').click();
    assert.equal(await bobRow.getByTestId('rename-input').count(), 0, 'a viewer cannot rename');
    await alice.context().close();
    await bob.context().close();
  });

  test('someone in two tenants picks the tenant of a new terminal, and the list says which each is in', async (t) => {
    const dir = await mkdtemp(join(tmpdir(), 'cloudterm-e2e-tenants-'));
    dataDirs.push(dir);
    const tenantsFile = join(dir, 'tenants.json');
    await writeFile(tenantsFile, JSON.stringify({ tenants: { 'team-a': { members: ['alice'] }, 'team-b': { members: ['alice'] } } }));
    const site = await gatewayWith(['--tenants-file', tenantsFile]);
    const gateway = await site.start();
    t.after(() => gateway.stop());
    const alice = await logIn(site.url, 'alice');
    await alice.getByTestId('new-terminal-tenant').selectOption('team-b');
    const sessionId = await openNewTerminal(alice);
    await alice.getByTestId('back').click();
    const row = alice.locator(`[data-session-id="${sessionId}"]`);
    assert.equal(await row.getByTestId('session-tenant').innerText(), 'in team-b');
    await alice.context().close();
  });

  test('a share changed while bob watches: his page follows — writer, then read-only, then gone', async (t) => {
    const { gateway, alice, bob, sessionId, api } = await aliceSharesWithBob('rw');
    t.after(() => gateway.stop());
    await run(bob, 'echo "BOB-$((40+2))"');
    await waitForLine(alice, /^BOB-42$/);

    // Down to read-only: the page reconnects by itself and shows it.
    await api.request('PUT', `/api/sessions/${sessionId}/shares/bob`, { role: 'ro' });
    await bob.getByTestId('readonly-badge').waitFor({ state: 'visible' });
    await waitForState(bob, ['connected']);
    await run(bob, 'echo BOB-AFTER-DOWNGRADE');
    await run(alice, 'echo "ALICE-$((20+22))"');
    await waitForLine(bob, /^ALICE-42$/);
    assert.ok(!(await lines(alice)).some((line) => line.includes('BOB-AFTER-DOWNGRADE')), 'a read-only page cannot type');

    // Taken back: the page ends, saying the session is gone for bob.
    await api.request('DELETE', `/api/sessions/${sessionId}/shares/bob`);
    await waitForState(bob, ['ended']);
    assert.equal(await bob.getByTestId('conn-state').textContent(), 'session gone');
    await alice.context().close();
    await bob.context().close();
  });

  test('a gateway at its maximum of attachments: the page waits, reconnecting, and connects once there is room', async (t) => {
    const site = await gatewayWith(['--max-attachments', '1']);
    const gateway = await site.start();
    t.after(() => gateway.stop());
    const first = await logIn(site.url, 'alice');
    const sessionId = await openNewTerminal(first);

    // A second page of the same session is refused (503 gateway_full): it keeps trying, not failing.
    const second = await logIn(site.url, 'alice');
    await second.locator(`[data-session-id="${sessionId}"]`).getByTestId('session-open').click();
    await waitForState(second, ['reconnecting']);
    await second.waitForTimeout(1_000);
    assert.equal(await connState(second), 'reconnecting', 'still waiting for room, not failed');
    // The page asked the gateway why (browsers hide a refused upgrade's status) and says so.
    await second.getByTestId('conn-state').filter({ hasText: 'the gateway is full' }).waitFor({ timeout: 10_000 });
    await run(first, 'echo "FIRST-$((40+2))"');
    await waitForLine(first, /^FIRST-42$/);

    // The first page leaves: the second connects on its next try and sees the session's output.
    await first.context().close();
    await waitForState(second, ['connected'], 30_000);
    await waitForLine(second, /^FIRST-42$/);
    await second.context().close();
  });

  test('the page and the agent negotiate permessage-deflate, and the compressed frames cross the gateway undecoded; --compression=false turns it off', async (t) => {
    for (const [args, answer] of [[[], 'permessage-deflate; server_max_window_bits=13'], [['--compression=false'], undefined]] as const) {
      const site = await gatewayWith([...args]);
      const gateway = await site.start();
      t.after(() => gateway.stop());
      const page = await logIn(site.url, 'alice');
      // What DevTools shows for the page's WebSocket: the 101's headers, as the agent wrote them.
      const cdp = await page.context().newCDPSession(page);
      await cdp.send('Network.enable');
      const handshake = new Promise<Record<string, string>>((resolve) =>
        cdp.on('Network.webSocketHandshakeResponseReceived', (event: { response: { headers: Record<string, string> } }) => resolve(event.response.headers)),
      );
      await openNewTerminal(page);
      const headers = Object.fromEntries(Object.entries(await handshake).map(([name, value]) => [name.toLowerCase(), value]));
      assert.equal(headers['sec-websocket-extensions'], answer, `negotiated with ${args.join(' ') || 'the defaults'}`);
      const downBytes = async () => {
        const text = await fetch(`${site.url}/metrics`).then((r) => r.text());
        return Number(/cloudterm_gateway_proxied_bytes_total\{direction="down"\} (\d+)/.exec(text)?.[1]);
      };
      const receivedBefore = await received(page);
      const countedBefore = await downBytes();
      await run(page, 'head -c 200000 /dev/zero | tr "\\0" a | fold -w 100; echo; echo "print""ed"');
      await waitForLine(page, /^printed$/, 30_000);
      const output = (await received(page)) - receivedBefore;
      const counted = (await downBytes()) - countedBefore;
      assert.ok(output > 200_000, `the page received the whole output (${output} bytes)`);
      if (answer) assert.ok(counted < output / 10, `compressed through the splice: the gateway moved ${counted} bytes for ${output}`);
      else assert.ok(counted > output, `uncompressed: the gateway moved ${counted} bytes for ${output}`);
      await page.context().close();
    }
  });

  test('an idle session expires: the page says so and the session is gone', async (t) => {
    const site = await gatewayWith(['--idle-timeout', '10', '--max-lifetime', '600']);
    const gateway = await site.start();
    t.after(() => gateway.stop());
    const page = await logIn(site.url, 'carol');
    await page.getByTestId('new-terminal').click();
    await waitForState(page, ['connected']);
    const sessionId = decodeURIComponent(/#\/s\/(.+)$/.exec(page.url())![1]!);
    // Nobody types: after the idle timeout the reaper ends the session and closes the page's socket.
    const state = await waitForState(page, ['ended', 'closed'], 40_000);
    assert.ok(['ended', 'closed'].includes(state));
    const api = new ApiClient(site.url, null);
    await api.request('POST', '/api/login', { username: 'carol', password: PASSWORDS.carol });
    assert.equal((await api.request('GET', `/api/sessions/${sessionId}`)).status, 404);
    await page.screenshot({ path: join(tmpdir(), 'cloudterm-expired.png') });
    await page.context().close();
  });
});
