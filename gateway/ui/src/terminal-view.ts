// The terminal screen: xterm filling the window under a slim bar with the session's name, a
// read-only badge, the connection state and the expiry with an Extend button.
import { FitAddon } from '@xterm/addon-fit';
import { WebLinksAddon } from '@xterm/addon-web-links';
import { Terminal } from '@xterm/xterm';
import { NoticeCode, type Role } from '../../../core/src/protocol/messages.js';
import { ApiError, api, attachUrl, type SessionView } from './api.js';
import { absoluteTime, h, recordedBadge, relativeTime, replaceChildren, toast } from './dom.js';
import { TerminalConnection, type ConnectionState, type EndReason, type SessionStatus } from './terminal-connection.js';

export interface TerminalViewOptions {
  session: SessionView;
  onBack(): void;
  onUnauthorized(): void;
}

export interface TerminalView {
  readonly connection: TerminalConnection;
  /** The terminal's text, scrollback included, one string per line (trailing blanks trimmed). */
  lines(): string[];
  /** Reads the session again (its name, its expiry, which activity moves): done every 15 s. */
  refresh(): Promise<void>;
  dispose(): void;
}

/** How much one click on Extend adds to the current expiry, up to the session's maximum. */
const EXTEND_SECONDS = 3600;

/**
 * The gateway sets the expiry to now + seconds: ask for the current expiry plus an hour, so a
 * click never shortens a session, and never past its maximum (which the gateway refuses).
 */
function extensionSeconds(session: SessionView, now = Date.now()): number {
  const target = Math.min(Math.max(Date.parse(session.expiresAt), now) + EXTEND_SECONDS * 1000, Date.parse(session.maxExpiresAt));
  return Math.max(1, Math.ceil((target - now) / 1000));
}
const EXPIRY_WARNING_MS = 10 * 60_000;

const DIM = '\x1b[2m';
const NORMAL = '\x1b[22m';

const theme = {
  background: '#0b0f17',
  foreground: '#d7dde8',
  cursor: '#5eead4',
  cursorAccent: '#0b0f17',
  selectionBackground: '#2b3a55',
  black: '#1b2230',
  red: '#f87171',
  green: '#4ade80',
  yellow: '#facc15',
  blue: '#60a5fa',
  magenta: '#c084fc',
  cyan: '#22d3ee',
  white: '#d7dde8',
  brightBlack: '#5b6678',
  brightRed: '#fca5a5',
  brightGreen: '#86efac',
  brightYellow: '#fde047',
  brightBlue: '#93c5fd',
  brightMagenta: '#d8b4fe',
  brightCyan: '#67e8f9',
  brightWhite: '#f8fafc',
};

const stateLabels: Record<ConnectionState, string> = {
  connecting: 'connecting…',
  connected: 'connected',
  reconnecting: 'reconnecting…',
  ended: 'session ended',
  closed: 'closed',
};

/** Refusals worth telling the user while the page keeps trying (the API's codes). */
const ATTACH_REFUSALS: Readonly<Record<string, string>> = {
  attachment_limit: '(you have too many terminals open: close one)',
  gateway_full: '(the gateway is full)',
};

export function openTerminalView(root: HTMLElement, options: TerminalViewOptions): TerminalView {
  let session = options.session;

  const back = h('button', { type: 'button', class: 'button ghost', 'data-testid': 'back' }, '← Sessions');
  const title = h('h1', { class: 'term-title', title: session.id });
  const badge = h('span', { class: 'badge badge-ro', 'data-testid': 'readonly-badge', hidden: session.role !== 'ro' }, 'read-only');
  // Everyone who opens a recorded terminal is told, owner and viewers alike.
  const recorded = session.recorded ? recordedBadge() : null;
  const connState = h('span', { class: 'conn-state', 'data-testid': 'conn-state', 'data-state': 'connecting' }, stateLabels.connecting);
  const expiry = h('span', { class: 'expiry', 'data-testid': 'expiry' });
  const extend = h('button', { type: 'button', class: 'button small', 'data-testid': 'extend' }, 'Extend');
  const screen = h('div', { class: 'term-screen', 'data-testid': 'terminal' });
  replaceChildren(
    root,
    h(
      'div',
      { class: 'term-view' },
      h('header', { class: 'term-bar' }, back, title, badge, recorded, h('span', { class: 'spacer' }), connState, expiry, extend),
      screen,
    ),
  );

  const term = new Terminal({
    theme,
    fontFamily: 'ui-monospace, "SF Mono", "Cascadia Mono", Menlo, Consolas, "DejaVu Sans Mono", "Liberation Mono", monospace',
    fontSize: 14,
    lineHeight: 1.15,
    cursorBlink: true,
    scrollback: 5000,
    disableStdin: session.role === 'ro',
  });
  const fit = new FitAddon();
  term.loadAddon(fit);
  // URLs the terminal prints open in a new tab when clicked (no opener: the page cannot be reached from it).
  term.loadAddon(new WebLinksAddon());
  term.open(screen);

  // The tab shows the title the program sets (OSC 0/2, as shells do with the directory), then the session.
  let programTitle = '';
  const renderTitle = () => {
    title.textContent = session.name || session.id;
    const sessionTitle = `${title.textContent} · CloudTerm`;
    document.title = programTitle ? `${programTitle} — ${sessionTitle}` : sessionTitle;
  };
  renderTitle();
  term.onTitleChange((text) => {
    programTitle = text.trim();
    renderTitle();
  });

  let role: Role = session.role === 'ro' ? 'ro' : 'rw';
  let ended = false;

  const setRole = (next: Role) => {
    role = next;
    badge.hidden = role !== 'ro';
    term.options.disableStdin = role === 'ro';
  };

  // Read-write clients size the session to their window; read-only ones show the session at
  // the size its writers chose, whatever their own window is.
  const fitToWindow = () => {
    if (role !== 'rw' || !screen.isConnected) return;
    fit.fit();
  };

  const renderExpiry = () => {
    const remaining = Date.parse(session.expiresAt) - Date.now();
    expiry.textContent = remaining > 0 ? `expires ${relativeTime(session.expiresAt)}` : 'expired';
    expiry.title = `Expires ${absoluteTime(session.expiresAt)}; at most until ${absoluteTime(session.maxExpiresAt)}`;
    expiry.classList.toggle('warning', remaining < EXPIRY_WARNING_MS);
    const atMax = Date.parse(session.expiresAt) >= Date.parse(session.maxExpiresAt);
    extend.disabled = ended || atMax || session.role === 'ro';
    extend.title = session.role === 'ro' ? 'Only the owner and writers can extend' : atMax ? 'The session has reached its maximum lifetime' : `Add ${EXTEND_SECONDS / 3600} h`;
  };

  /** Why the gateway keeps refusing our socket, when it says so: shown beside "reconnecting…". */
  let refusedBecause: string | null = null;

  /** A newer view of the session: its name (renamed elsewhere) and expiry (slid by activity). */
  const showSession = (fresh: SessionView) => {
    session = fresh;
    renderTitle();
    renderExpiry();
  };

  /** Reads the session again and shows it; says what became of it. */
  const readSession = async (): Promise<SessionStatus> => {
    try {
      showSession(await api.getSession(session.id));
      return 'alive';
    } catch (error) {
      if (error instanceof ApiError && error.status === 404) return 'gone';
      if (error instanceof ApiError && error.status === 401) return 'unauthorized';
      return 'unknown';
    }
  };

  const checkSession = async (): Promise<SessionStatus> => {
    const status = await readSession();
    if (status === 'alive') {
      refusedBecause = await api.checkAttach(session.id).then(
        () => null,
        (error: unknown) => (error instanceof ApiError ? (ATTACH_REFUSALS[error.code] ?? null) : null),
      );
    }
    return status;
  };

  const endMessages: Record<EndReason['kind'], string> = {
    exited: 'session ended',
    ended: 'session ended',
    gone: 'session gone',
    unauthorized: 'signed out',
    failed: 'disconnected',
  };

  const connection = new TerminalConnection({
    url: attachUrl(session.id),
    checkSession,
    sink: {
      output: (data) => term.write(data),
      gap: (from, to) => term.write(`\r\n${DIM}[… ${to - from} bytes of output not kept …]${NORMAL}\r\n`),
      hello: (helloRole, cols, rows) => {
        setRole(helloRole);
        if (helloRole === 'rw') {
          fitToWindow();
          connection.resize(term.cols, term.rows);
        } else if (term.cols !== cols || term.rows !== rows) {
          term.resize(cols, rows);
        }
      },
      resized: (cols, rows) => {
        if (term.cols !== cols || term.rows !== rows) term.resize(cols, rows);
      },
      exit: (code, signal) => {
        const how = signal ? `was killed by signal ${signal}` : `exited with code ${code}`;
        term.write(`\r\n${DIM}[process ${how}]${NORMAL}\r\n`);
      },
      notice: (code, message) => {
        if (code === NoticeCode.ReadOnly) toast('This terminal is read-only: input is not sent.');
        else if (code === NoticeCode.InputRefused) toast('Input not sent: the program is not reading what was already typed or pasted.', 'error');
        else toast(message);
      },
      state: (state) => {
        if (state === 'connected') refusedBecause = null;
        connState.dataset.state = state;
        connState.textContent = state === 'reconnecting' && refusedBecause ? `${stateLabels[state]} ${refusedBecause}` : stateLabels[state];
      },
      ended: (reason) => {
        ended = true;
        connState.dataset.state = 'ended';
        connState.textContent = endMessages[reason.kind];
        renderExpiry();
        if (reason.kind === 'unauthorized') return options.onUnauthorized();
        if (reason.kind === 'gone') toast('The session was deleted or has expired.');
        if (reason.kind === 'failed') toast(`Disconnected: ${reason.message}`, 'error');
      },
    },
  });

  // Ctrl+C (or Ctrl+Shift+C) with text selected copies it, as terminal apps do; with nothing
  // selected it is the interrupt it always was. The selection goes, so the next one interrupts.
  term.attachCustomKeyEventHandler((event) => {
    if (event.type !== 'keydown' || !event.ctrlKey || event.altKey || event.metaKey || event.code !== 'KeyC' || !term.hasSelection()) return true;
    copyToClipboard(term.getSelection());
    term.clearSelection();
    event.preventDefault();
    return false;
  });

  const encoder = new TextEncoder();
  term.onData((data) => connection.input(encoder.encode(data)));
  // onBinary carries bytes as a string of code units 0–255 (mouse reports in legacy modes).
  term.onBinary((data) => connection.input(Uint8Array.from(data, (c) => c.charCodeAt(0) & 0xff)));
  term.onResize(({ cols, rows }) => {
    if (role === 'rw') connection.resize(cols, rows);
  });

  let frame = 0;
  const observer = new ResizeObserver(() => {
    cancelAnimationFrame(frame);
    frame = requestAnimationFrame(fitToWindow);
  });
  observer.observe(screen);

  extend.addEventListener('click', async () => {
    extend.disabled = true;
    try {
      showSession(await api.extendSession(session.id, extensionSeconds(session)));
      toast(`Extended: expires ${absoluteTime(session.expiresAt)}`);
    } catch (error) {
      if (error instanceof ApiError && error.status === 401) return options.onUnauthorized();
      toast(`Could not extend: ${(error as Error).message}`, 'error');
    } finally {
      renderExpiry();
    }
  });
  back.addEventListener('click', () => options.onBack());

  // A session gone or a login ended is the connection's to say (it checks when it drops); here
  // the countdown just goes on from what was last read.
  const refresh = async () => {
    if (ended || (await readSession()) !== 'alive') renderExpiry();
  };
  renderExpiry();
  const expiryTimer = setInterval(() => void refresh(), 15_000);
  fitToWindow();
  term.focus();

  return {
    connection,
    refresh,
    lines() {
      const buffer = term.buffer.active;
      const lines: string[] = [];
      for (let i = 0; i < buffer.length; i += 1) lines.push(buffer.getLine(i)?.translateToString(true) ?? '');
      return lines;
    },
    dispose() {
      clearInterval(expiryTimer);
      cancelAnimationFrame(frame);
      observer.disconnect();
      connection.close();
      term.dispose();
    },
  };
}

/**
 * Puts text on the clipboard: the Clipboard API where the page is a secure context (HTTPS or
 * localhost), else the older copy command, which plain HTTP still allows during a key press.
 */
function copyToClipboard(text: string): void {
  if (navigator.clipboard && window.isSecureContext) {
    navigator.clipboard.writeText(text).catch(() => toast('Could not copy: the browser refused the clipboard', 'error'));
    return;
  }
  const scratch = h('textarea', { 'aria-hidden': 'true', class: 'clipboard-scratch' });
  scratch.value = text;
  document.body.appendChild(scratch);
  scratch.select();
  const copied = document.execCommand('copy');
  scratch.remove();
  if (!copied) toast('Could not copy: use the browser\'s menu', 'error');
}

