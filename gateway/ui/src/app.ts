// The page's entry: decides between sign-in, the list of terminals and one terminal, from the
// API's answer and the URL hash (#/s/<id>), so a reload or a shared link reopens the terminal.
// Hash routes need no server-side fallback: the gateway serves only `/` and hashed assets.
import '@xterm/xterm/css/xterm.css';
import './styles.css';
import { ApiError, api, type Me } from './api.js';
import { toast } from './dom.js';
import { showLogin } from './login-view.js';
import { showSessions } from './sessions-view.js';
import { openTerminalView, type TerminalView } from './terminal-view.js';

/** Read by end-to-end tests: the resume offset, the connection state, and the socket to kill. */
export interface CloudTermProbe {
  received(): number;
  state(): string;
  socket(): WebSocket | null;
  /** The terminal's text, scrollback included (what a person could scroll back and read). */
  lines(): string[];
  /** Reads the open session again now, as the page does every 15 s. */
  refreshSession(): Promise<void>;
}

declare global {
  interface Window {
    cloudterm: CloudTermProbe;
  }
}

const root = document.getElementById('app');
if (!root) throw new Error('index.html has no #app element');

let me: Me | null = null;
let terminal: TerminalView | null = null;
let current: { dispose(): void } | null = null;
/** Increases on every navigation, so a slow answer for an old route is dropped. */
let generation = 0;

window.cloudterm = {
  received: () => terminal?.connection.received ?? 0,
  state: () => terminal?.connection.state ?? 'idle',
  socket: () => terminal?.connection.socket ?? null,
  lines: () => terminal?.lines() ?? [],
  refreshSession: async () => terminal?.refresh(),
};

function leave(): void {
  current?.dispose();
  current = null;
  terminal = null;
}

function sessionIdFromHash(): string | null {
  const match = /^#\/s\/([^/]+)$/.exec(location.hash);
  return match?.[1] ? decodeURIComponent(match[1]) : null;
}

function navigate(hash: string): void {
  // pushState does not fire hashchange: route explicitly, once.
  history.pushState(null, '', hash || `${location.pathname}${location.search}`);
  void route();
}

function signIn(message?: string): void {
  leave();
  me = null;
  generation += 1;
  document.title = 'Sign in · CloudTerm';
  current = showLogin(root!, {
    ...(message ? { message } : {}),
    onLoggedIn: (who) => {
      me = who;
      void route();
    },
  });
}

const signedOut = () => signIn('Your sign-in has expired. Sign in again.');

async function route(): Promise<void> {
  const mine = ++generation;
  if (!me) {
    try {
      me = await api.me();
    } catch (error) {
      if (mine !== generation) return;
      if (error instanceof ApiError && error.status === 401) return signIn();
      return signIn(error instanceof ApiError && error.status === 0 ? 'The gateway cannot be reached.' : undefined);
    }
    if (mine !== generation) return;
  }
  const user = me;
  const id = sessionIdFromHash();
  if (!id) {
    leave();
    document.title = 'Terminals · CloudTerm';
    current = showSessions(root!, {
      me: user,
      onOpen: (session) => navigate(`#/s/${encodeURIComponent(session.id)}`),
      onLogout: () => signIn(),
      onUnauthorized: signedOut,
    });
    return;
  }
  try {
    const session = await api.getSession(id);
    if (mine !== generation) return;
    leave();
    terminal = openTerminalView(root!, {
      session,
      onBack: () => navigate(''),
      onUnauthorized: signedOut,
    });
    current = terminal;
  } catch (error) {
    if (mine !== generation) return;
    if (error instanceof ApiError && error.status === 401) return signedOut();
    toast(error instanceof ApiError && error.status === 404 ? 'That terminal no longer exists.' : `Could not open the terminal: ${(error as Error).message}`, 'error');
    navigate('');
  }
}

window.addEventListener('popstate', () => void route());
void route();
