// The gateway's HTTP API as the page uses it. URLs are relative to the page, so the gateway can
// be served under a path prefix; the login cookie travels automatically (same origin).

/** `admin`: a tenant admin, who may manage every session of the tenant like its owner. */
export type SessionRole = 'owner' | 'admin' | 'rw' | 'ro';
export type ShareRole = 'rw' | 'ro';

export interface SessionView {
  id: string;
  name: string;
  owner: string;
  tenant: string;
  role: SessionRole;
  state: 'starting' | 'running' | 'ending';
  createdAt: string;
  expiresAt: string;
  maxExpiresAt: string;
  shares: Record<string, ShareRole>;
  /** Its terminal is being recorded. */
  recorded: boolean;
  /** Clients attached now, on every gateway replica; null when its agent could not be asked. */
  attached: number | null;
}

export interface TenantMembership {
  tenant: string;
  admin: boolean;
}

export interface Me {
  user: string;
  tenants: TenantMembership[];
}

export interface NewSession {
  name?: string;
  tenant?: string;
  cols?: number;
  rows?: number;
}

/** An error answer from the gateway (`{error: {code, message}}`), or a network failure (status 0). */
export class ApiError extends Error {
  override readonly name = 'ApiError';
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    /** Seconds, from Retry-After (429, 503). */
    readonly retryAfter: number | null = null,
  ) {
    super(message);
  }
}

function url(path: string): string {
  return new URL(path, document.baseURI).href;
}

async function errorFrom(response: Response): Promise<ApiError> {
  const retry = Number(response.headers.get('retry-after'));
  const retryAfter = Number.isFinite(retry) && retry > 0 ? retry : null;
  try {
    const body = (await response.json()) as { error?: { code?: unknown; message?: unknown } };
    const code = typeof body.error?.code === 'string' ? body.error.code : `http_${response.status}`;
    const message = typeof body.error?.message === 'string' ? body.error.message : response.statusText;
    return new ApiError(response.status, code, message, retryAfter);
  } catch {
    return new ApiError(response.status, `http_${response.status}`, response.statusText || 'request failed', retryAfter);
  }
}

// A bodyless request sends no Content-Type: fastify refuses an empty body declared as JSON.
async function call<T>(method: string, path: string, body?: unknown): Promise<T> {
  const init: RequestInit = { method, credentials: 'same-origin', cache: 'no-store', headers: { accept: 'application/json' } };
  if (body !== undefined) {
    init.headers = { accept: 'application/json', 'content-type': 'application/json' };
    init.body = JSON.stringify(body);
  }
  let response: Response;
  try {
    response = await fetch(url(path), init);
  } catch {
    throw new ApiError(0, 'network', 'the gateway cannot be reached');
  }
  if (!response.ok) throw await errorFrom(response);
  // DELETE may answer 204 or 200 with or without a body: an empty body is simply no value.
  const text = await response.text();
  return (text ? JSON.parse(text) : undefined) as T;
}

const session = (id: string) => `api/sessions/${encodeURIComponent(id)}`;

export const api = {
  login: (username: string, password: string) =>
    call<Me & { expiresAt: string }>('POST', 'api/login', { username, password }),
  logout: () => call<void>('POST', 'api/logout'),
  me: () => call<Me>('GET', 'api/me'),
  listSessions: async () => (await call<{ sessions: SessionView[] }>('GET', 'api/sessions')).sessions,
  createSession: (request: NewSession) => call<SessionView>('POST', 'api/sessions', request),
  getSession: (id: string) => call<SessionView>('GET', session(id)),
  /** Resolves when an attach would be tried now; else the refusal it would get (409, 503, 404…). */
  checkAttach: (id: string) => call<void>('GET', `${session(id)}/attach`),
  deleteSession: (id: string) => call<void>('DELETE', session(id)),
  renameSession: (id: string, name: string) => call<SessionView>('PATCH', session(id), { name }),
  extendSession: (id: string, seconds: number) => call<SessionView>('POST', `${session(id)}/extend`, { seconds }),
  share: (id: string, user: string, role: ShareRole) =>
    call<SessionView>('PUT', `${session(id)}/shares/${encodeURIComponent(user)}`, { role }),
  unshare: (id: string, user: string) => call<SessionView>('DELETE', `${session(id)}/shares/${encodeURIComponent(user)}`),
};

/** The WebSocket URL of a session's terminal: same host, ws or wss as the page. */
export function attachUrl(id: string): string {
  const target = new URL(`${session(id)}/attach`, document.baseURI);
  target.protocol = target.protocol === 'https:' ? 'wss:' : 'ws:';
  return target.href;
}
