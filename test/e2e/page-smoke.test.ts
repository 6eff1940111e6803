// The built page in headless Chromium, served by the static-assets plugin on a real port.
// 1. A fresh visit shows the sign-in form with no CSP violation and no console error.
// 2. With a stand-in API and agent, the terminal view shows output, reconnects after its
//    socket dies and resumes at the right offset without printing anything twice, sends
//    input and its size, shows gaps, the exit, and the read-only and recorded badges; the tab
//    carries the program's title, printed URLs open in a new tab, Ctrl+C copies a selection, and
//    an open terminal follows a rename and an expiry moved elsewhere.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import fastify, { type FastifyInstance } from 'fastify';
import { chromium, type Browser, type Page } from 'playwright-core';
import { WebSocketServer, type WebSocket } from 'ws';
import { loadStaticAssets, serveStaticFirst } from '../../gateway/src/http/static-assets.js';
import {
  decodeClientMessage,
  encodeExit,
  encodeGap,
  encodeHello,
  encodeNotice,
  encodeOutput,
  NoticeCode,
  type ClientMessage,
  type Role,
} from '../../core/src/protocol/messages.js';

const root = join(import.meta.dirname, '../../gateway/ui/dist');
const SCREENSHOT = '/tmp/cloudterm-login.png';

/** A stand-in for one session's agent: an output transcript and the messages clients sent. */
class FakeAgent {
  readonly output: number[] = [];
  readonly received: ClientMessage[] = [];
  readonly sockets: WebSocket[] = [];
  /** Sent on attach instead of the exact resume: frames already in flight may overlap. */
  replayFrom: number | null = null;

  constructor(readonly role: Role) {}

  append(text: string): void {
    const bytes = Buffer.from(text);
    const offset = this.output.length;
    this.output.push(...bytes);
    for (const socket of this.sockets) if (socket.readyState === socket.OPEN) socket.send(encodeOutput(offset, bytes));
  }

  accept(socket: WebSocket): void {
    this.sockets.push(socket);
    socket.send(encodeHello({ role: this.role, cols: 80, rows: 24, offset: this.output.length, oldest: 0 }));
    socket.on('message', (data: Buffer) => {
      const message = decodeClientMessage(new Uint8Array(data));
      if (!message) return;
      this.received.push(message);
      if (message.type === 'attach') {
        const from = this.replayFrom ?? message.offset;
        this.replayFrom = null;
        if (from < this.output.length) socket.send(encodeOutput(from, Uint8Array.from(this.output.slice(from))));
      }
    });
  }

  get current(): WebSocket | undefined {
    return this.sockets.at(-1);
  }

  attaches(): number[] {
    return this.received.flatMap((m) => (m.type === 'attach' ? [m.offset] : []));
  }
}

function sessionView(id: string, role: 'owner' | 'ro') {
  const now = Date.now();
  return {
    id,
    name: `demo ${id}`,
    owner: role === 'owner' ? 'alice' : 'bob',
    tenant: 'default',
    role,
    state: 'running',
    createdAt: new Date(now - 60_000).toISOString(),
    expiresAt: new Date(now + 45 * 60_000).toISOString(),
    maxExpiresAt: new Date(now + 8 * 3600_000).toISOString(),
    shares: {},
    // The watched terminal is a recorded one: everyone opening it must be told.
    recorded: role === 'ro',
  };
}

let browser: Browser;
let app: FastifyInstance;
let base: string;
let loggedIn = false;
const agents = new Map<string, FakeAgent>([
  ['s-rw', new FakeAgent('rw')],
  ['s-ro', new FakeAgent('ro')],
  ['s-links', new FakeAgent('rw')],
  ['s-copy', new FakeAgent('rw')],
  ['s-moved', new FakeAgent('rw')],
]);
/** What the stand-in API says of a session instead, once changed elsewhere (renamed, its expiry slid). */
const changedElsewhere = new Map<string, { name: string; expiresAt: string }>();

before(async () => {
  app = fastify({ serverFactory: serveStaticFirst(await loadStaticAssets(root)) });
  app.get('/api/me', async (_request, reply) =>
    loggedIn ? { user: 'alice', tenants: [{ tenant: 'default', admin: false }] } : reply.code(401).send({ error: { code: 'unauthenticated', message: 'log in first' } }),
  );
  app.get('/api/sessions/:id', async (request, reply) => {
    const { id } = request.params as { id: string };
    if (!agents.has(id)) return reply.code(404).send({ error: { code: 'session_not_found', message: 'no such session' } });
    return { ...sessionView(id, id === 's-ro' ? 'ro' : 'owner'), ...changedElsewhere.get(id) };
  });
  const wss = new WebSocketServer({ noServer: true });
  app.server.on('upgrade', (request, socket, head) => {
    const id = /^\/api\/sessions\/([^/]+)\/attach$/.exec(request.url ?? '')?.[1];
    const agent = id ? agents.get(id) : undefined;
    if (!agent) return socket.destroy();
    wss.handleUpgrade(request, socket, head, (ws) => agent.accept(ws));
  });
  await app.listen({ host: '127.0.0.1', port: 0 });
  const address = app.server.address();
  assert.ok(address && typeof address === 'object');
  base = `http://127.0.0.1:${address.port}`;
  browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
  });
});

after(async () => {
  await browser?.close();
  for (const agent of agents.values()) for (const socket of agent.sockets) socket.terminate();
  await app?.close();
});

/** A page that records every console error, page error and CSP violation. */
async function openPage(): Promise<{ page: Page; problems: string[] }> {
  const page = await browser.newPage({ viewport: { width: 1200, height: 760 } });
  const problems: string[] = [];
  page.on('console', (message) => {
    if (message.type() !== 'error' && message.type() !== 'warning') return;
    // The gateway answers /api/me with 401 before sign-in; Chromium logs every 4xx fetch.
    if (/status of 401/.test(message.text()) && message.location().url.endsWith('/api/me')) return;
    problems.push(`console ${message.type()}: ${message.text()}`);
  });
  page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
  await page.exposeFunction('reportCspViolation', (text: string) => problems.push(`CSP: ${text}`));
  await page.addInitScript({
    content: "document.addEventListener('securitypolicyviolation', (e) => window.reportCspViolation(e.violatedDirective + ' ' + e.blockedURI));",
  });
  return { page, problems };
}

// Expressions run in the page. They are strings because this test's tsconfig has no DOM types.
const pageState = (page: Page) => page.evaluate('window.cloudterm.state()') as Promise<string>;
const pageReceived = (page: Page) => page.evaluate('window.cloudterm.received()') as Promise<number>;
const killSocket = (page: Page) => page.evaluate('window.cloudterm.socket()?.close()');

/** Goes to a session's terminal and waits until its socket is connected. */
async function showTerminal(page: Page, id: string): Promise<void> {
  await page.goto(`${base}/#/s/${id}`);
  await waitFor('connected', async () => (await pageState(page)) === 'connected');
}

async function screenText(page: Page): Promise<string> {
  return page.locator('[data-testid=terminal] .xterm-rows').innerText();
}

async function waitFor(what: string, check: () => Promise<boolean> | boolean, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

const count = (text: string, part: string) => text.split(part).length - 1;

describe('page in Chromium', () => {
  test('a fresh visit shows the sign-in form, with no CSP violation or console error', async (t) => {
    loggedIn = false;
    const { page, problems } = await openPage();
    t.after(() => page.close());
    const response = await page.goto(base, { waitUntil: 'networkidle' });
    assert.equal(response?.status(), 200);
    assert.match(String(response?.headers()['content-security-policy']), /default-src 'self'/);
    await page.getByTestId('login-username').waitFor({ state: 'visible' });
    assert.ok(await page.getByTestId('login-password').isVisible());
    assert.ok(await page.getByTestId('login-submit').isVisible());
    assert.equal(await page.evaluate('document.activeElement?.dataset.testid'), 'login-username', 'user name focused');
    assert.equal(await page.title(), 'Sign in · CloudTerm');
    assert.deepEqual(await page.evaluate('[window.cloudterm.state(), window.cloudterm.received(), window.cloudterm.socket()]'), ['idle', 0, null]);
    await page.screenshot({ path: SCREENSHOT });
    assert.deepEqual(problems, []);
  });

  test('the terminal resumes after its socket dies, printing nothing twice', async (t) => {
    loggedIn = true;
    const agent = agents.get('s-rw')!;
    agent.append('first line from the agent\r\n');
    const { page, problems } = await openPage();
    t.after(() => page.close());
    await showTerminal(page, 's-rw');
    assert.equal(await page.getByTestId('conn-state').getAttribute('data-state'), 'connected');
    assert.ok(await page.getByTestId('readonly-badge').isHidden());
    assert.equal(await page.getByTestId('recorded-badge').count(), 0, 'not recorded: no badge');
    assert.match(await page.getByTestId('expiry').innerText(), /^expires in (44|45) min$/);
    assert.ok(await page.getByTestId('extend').isEnabled());
    await waitFor('first output', async () => (await screenText(page)).includes('first line from the agent'));
    const firstLength = Buffer.byteLength('first line from the agent\r\n');
    assert.equal(await pageReceived(page), firstLength);
    assert.deepEqual(agent.attaches(), [0]);

    // The page sizes the session to its window (rw), and sends what is typed.
    await waitFor('resize', () => agent.received.some((m) => m.type === 'resize'));
    const resize = agent.received.find((m) => m.type === 'resize');
    assert.ok(resize?.type === 'resize' && resize.cols > 80 && resize.rows > 24, `fits the window: ${JSON.stringify(resize)}`);
    await page.getByTestId('terminal').click();
    await page.keyboard.type('ls');
    await waitFor('input', () => agent.received.filter((m) => m.type === 'input').length >= 2);
    const typed = agent.received.flatMap((m) => (m.type === 'input' ? [Buffer.from(m.data).toString()] : [])).join('');
    assert.equal(typed, 'ls');

    // A large paste arrives whole, as several messages each under the agent's maximum size.
    const inputsBefore = agent.received.filter((m) => m.type === 'input').length;
    const paste = 'p'.repeat(150_000);
    await page.keyboard.insertText(paste);
    const pasted = () => agent.received.filter((m) => m.type === 'input').slice(inputsBefore).flatMap((m) => (m.type === 'input' ? [m.data] : []));
    await waitFor('the paste', () => pasted().reduce((n, d) => n + d.byteLength, 0) >= paste.length);
    assert.ok(pasted().length >= 3 && pasted().every((d) => d.byteLength <= 64 * 1024), `sizes ${pasted().map((d) => d.byteLength)}`);
    assert.equal(Buffer.concat(pasted()).toString(), paste);

    // Input the program is not reading is refused, chunk by chunk: the page says so once.
    for (let i = 0; i < 3; i += 1) agent.current?.send(encodeNotice(NoticeCode.InputRefused, `input refused: ${1_048_576 + i} bytes already wait`));
    const refusedToasts = page.getByTestId('toast').filter({ hasText: 'Input not sent: the program is not reading' });
    await waitFor('the input-refused toast', async () => (await refusedToasts.count()) === 1);
    await new Promise((resolve) => setTimeout(resolve, 200));
    assert.equal(await refusedToasts.count(), 1, 'one toast for the burst');

    // Kill the socket; output produced meanwhile arrives after the reconnect, and frames
    // overlapping what the page has (replayed from 0) are cut, not printed again.
    const before = agent.sockets.length;
    await killSocket(page);
    agent.append('second line, written while away\r\n');
    agent.replayFrom = 0;
    await waitFor('reconnect', () => agent.sockets.length === before + 1);
    await waitFor('connected again', async () => (await pageState(page)) === 'connected');
    await waitFor('second output', async () => (await screenText(page)).includes('second line'));
    assert.deepEqual(agent.attaches(), [0, firstLength], 'resumes from the received offset');
    const text = await screenText(page);
    assert.equal(count(text, 'first line from the agent'), 1, text);
    assert.equal(count(text, 'second line, written while away'), 1, text);
    assert.equal(await pageReceived(page), agent.output.length);

    // Lost bytes become a dim note; the exit is shown and the page does not reconnect.
    agent.current?.send(encodeGap(agent.output.length, agent.output.length + 1234));
    agent.current?.send(encodeExit(0, 0));
    agent.current?.close(1000, 'session ended');
    await waitFor('ended', async () => (await pageState(page)) === 'ended');
    await waitFor('exit note', async () => (await screenText(page)).includes('[process exited with code 0]'));
    assert.ok((await screenText(page)).includes('[… 1234 bytes of output not kept …]'));
    const sockets = agent.sockets.length;
    await new Promise((resolve) => setTimeout(resolve, 600));
    assert.equal(agent.sockets.length, sockets, 'no reconnect after the session ended');
    assert.deepEqual(problems, []);
  });

  test('a read-only viewer sees the badge and sends neither input nor size', async () => {
    loggedIn = true;
    const agent = agents.get('s-ro')!;
    agent.append('watch only\r\n');
    const { page, problems } = await openPage();
    await showTerminal(page, 's-ro');
    assert.ok(await page.getByTestId('readonly-badge').isVisible());
    assert.ok(await page.getByTestId('recorded-badge').isVisible(), 'a recorded terminal says so');
    await waitFor('output', async () => (await screenText(page)).includes('watch only'));
    await page.getByTestId('terminal').click();
    await page.keyboard.type('rm -rf /');
    await new Promise((resolve) => setTimeout(resolve, 300));
    assert.deepEqual(agent.received.map((m) => m.type), ['attach']);
    assert.deepEqual(problems, []);
    // Listening before the page closes: the socket may close before page.close() resolves.
    const socketClosed = once(agent.current!, 'close');
    await page.close();
    await socketClosed;
  });

  test('the tab shows the title the program sets, and a printed URL opens in a new tab without an opener', async (t) => {
    loggedIn = true;
    const agent = agents.get('s-links')!;
    agent.append('docs at https://docs.example.test/guide?x=1 here\r\n');
    const { page, problems } = await openPage();
    t.after(() => page.close());
    // The link's site, answered here (the machine has no internet, and the test needs none).
    await page.context().route('https://docs.example.test/**', (route) => route.fulfill({ contentType: 'text/html', body: '<title>docs</title>' }));
    await showTerminal(page, 's-links');
    await waitFor('output', async () => (await screenText(page)).includes('docs.example.test'));
    assert.equal(await page.title(), 'demo s-links · CloudTerm');
    agent.append('\x1b]0;~/src: make\x07');
    await waitFor('title', async () => (await page.title()) === '~/src: make — demo s-links · CloudTerm');

    // The middle of the URL's fourth character, from the text as the DOM renderer laid it out.
    const at = (await page.evaluate(`(() => {
      const rows = document.querySelector('[data-testid=terminal] .xterm-rows');
      const walker = document.createTreeWalker(rows, NodeFilter.SHOW_TEXT);
      for (let node = walker.nextNode(); node; node = walker.nextNode()) {
        const index = node.textContent.indexOf('https://');
        if (index < 0) continue;
        const range = document.createRange();
        range.setStart(node, index + 3);
        range.setEnd(node, index + 4);
        const box = range.getBoundingClientRect();
        return { x: box.x + box.width / 2, y: box.y + box.height / 2 };
      }
      return null;
    })()`)) as { x: number; y: number } | null;
    assert.ok(at, 'the URL is on the screen');
    await page.mouse.move(at.x, at.y);
    const popup = page.waitForEvent('popup');
    await waitFor('the link under the pointer', async () => {
      await page.mouse.move(at.x + 1, at.y);
      await page.mouse.move(at.x, at.y);
      // xterm marks the terminal while a link is under the pointer (the pointer cursor).
      return (await page.locator('[data-testid=terminal] .xterm-cursor-pointer').count()) > 0;
    });
    await page.mouse.click(at.x, at.y);
    const opened = await popup;
    t.after(() => opened.close());
    await opened.waitForURL('https://docs.example.test/guide?x=1');
    assert.equal(await opened.evaluate('window.opener'), null, 'the opened page cannot reach the terminal page');
    assert.deepEqual(problems, []);
  });

  test('Ctrl+C copies the selected text and sends nothing; with nothing selected it is the interrupt', async (t) => {
    loggedIn = true;
    const agent = agents.get('s-copy')!;
    agent.append('copy-me-please\r\n');
    const { page, problems } = await openPage();
    t.after(() => page.close());
    await page.context().grantPermissions(['clipboard-read', 'clipboard-write'], { origin: base });
    await showTerminal(page, 's-copy');
    await waitFor('output', async () => (await screenText(page)).includes('copy-me-please'));
    const inputs = () => agent.received.flatMap((m) => (m.type === 'input' ? [Buffer.from(m.data).toString('latin1')] : []));

    // A double click selects the word under the pointer (xterm's word separators keep the dashes).
    const box = await page.locator('[data-testid=terminal] .xterm-rows > div').first().boundingBox();
    assert.ok(box);
    await page.mouse.dblclick(box.x + 20, box.y + box.height / 2);
    await page.keyboard.press('Control+c');
    await waitFor('the clipboard', async () => (await page.evaluate('navigator.clipboard.readText()')) === 'copy-me-please');
    await new Promise((resolve) => setTimeout(resolve, 200));
    assert.deepEqual(inputs(), [], 'copying sent nothing to the terminal');

    await page.keyboard.press('Control+c');
    await waitFor('the interrupt', () => inputs().includes('\x03'));
    assert.deepEqual(problems, []);
  });

  test('an open terminal follows its session: a rename made elsewhere, an expiry moved by activity', async (t) => {
    loggedIn = true;
    const { page, problems } = await openPage();
    t.after(() => page.close());
    await showTerminal(page, 's-moved');
    assert.equal(await page.locator('.term-title').innerText(), 'demo s-moved');
    assert.match(await page.getByTestId('expiry').innerText(), /^expires in (44|45) min$/);
    changedElsewhere.set('s-moved', { name: 'renamed elsewhere', expiresAt: new Date(Date.now() + 3 * 3600_000).toISOString() });
    await page.evaluate('window.cloudterm.refreshSession()');
    assert.equal(await page.locator('.term-title').innerText(), 'renamed elsewhere');
    assert.equal(await page.title(), 'renamed elsewhere · CloudTerm');
    assert.match(await page.getByTestId('expiry').innerText(), /^expires in (2 h 59 min|3 h)$/);
    assert.deepEqual(problems, []);
  });
});
