// The gateway's HTTP API as the terminal client calls it: always with a bearer token, never with
// a cookie or an Origin (docs/gateway.md), over node:http(s) so that a CA file can be trusted.
import { request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { ClientError, loginAgain } from './errors.js';
import { describeConnectError } from './tls-trust.js';

/** A session as `GET /api/sessions` describes it (the fields the client reads). */
export interface SessionView {
  readonly id: string;
  readonly name: string;
  readonly owner: string;
  readonly tenant: string;
  readonly role: 'owner' | 'admin' | 'rw' | 'ro';
  readonly state: 'starting' | 'running';
  readonly createdAt: string;
  readonly expiresAt: string;
  readonly shares: Readonly<Record<string, 'rw' | 'ro'>>;
  readonly recorded: boolean;
  /** Clients attached now, on every gateway replica; null when its agent could not be asked. */
  readonly attached: number | null;
}

export interface LoginAnswer {
  readonly user: string;
  readonly token: string;
  readonly expiresAt: string | null;
}

export interface GatewayTarget {
  readonly url: string;
  readonly ca: Buffer | undefined;
  readonly token: string | null;
}

interface RawAnswer {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  readonly body: unknown;
}

const REQUEST_TIMEOUT_MS = 30_000;
const AUTH_FAILURES = new Set(['unauthenticated', 'token_invalid', 'token_expired', 'token_revoked']);

function errorOf(body: unknown): { code: string; message: string } | null {
  const error = (body as { error?: { code?: unknown; message?: unknown } } | null)?.error;
  return typeof error?.code === 'string' ? { code: error.code, message: typeof error.message === 'string' ? error.message : error.code } : null;
}

export class GatewayApi {
  constructor(readonly target: GatewayTarget) {}

  /** One request; resolves with any HTTP answer, rejects with a ClientError when none came. */
  private send(method: string, path: string, body?: unknown): Promise<RawAnswer> {
    const payload = body === undefined ? undefined : JSON.stringify(body);
    const headers: Record<string, string> = { accept: 'application/json' };
    if (payload !== undefined) headers['content-type'] = 'application/json';
    if (this.target.token) headers.authorization = `Bearer ${this.target.token}`;
    const url = new URL(`${this.target.url}${path}`);
    const request = url.protocol === 'https:' ? httpsRequest : httpRequest;
    return new Promise((resolve, reject) => {
      const req = request(url, { method, headers, ca: this.target.ca, timeout: REQUEST_TIMEOUT_MS }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('error', (error) => reject(describeConnectError(error, this.target.url)));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let parsed: unknown = null;
          try {
            parsed = text ? JSON.parse(text) : null;
          } catch {
            parsed = null;
          }
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body: parsed });
        });
      });
      req.on('timeout', () => req.destroy(Object.assign(new Error(`no answer in ${REQUEST_TIMEOUT_MS / 1000} s`), { code: 'ETIMEDOUT' })));
      req.on('error', (error: NodeJS.ErrnoException) => reject(describeConnectError(error, this.target.url)));
      req.end(payload);
    });
  }

  /** A request whose error answers become ClientErrors that say what to do. */
  private async call<T>(method: string, path: string, body?: unknown): Promise<T> {
    const answer = await this.send(method, path, body);
    if (answer.status >= 200 && answer.status < 300) return answer.body as T;
    throw this.refusal(answer.status, answer.body, answer.headers['retry-after']);
  }

  /** An error answer (from the API or from a refused WebSocket upgrade) as a ClientError. */
  refusal(status: number, body: unknown, retryAfter?: string | string[]): ClientError {
    const error = errorOf(body) ?? { code: `http_${status}`, message: `HTTP ${status}` };
    if (status === 401 && AUTH_FAILURES.has(error.code)) return new ClientError('refused', loginAgain(this.target.url));
    if (status === 401 || status === 403) return new ClientError('refused', error.message);
    if (error.code === 'session_not_found') return new ClientError('gone', error.message);
    const wait = typeof retryAfter === 'string' ? ` (retry in ${retryAfter} s)` : '';
    return new ClientError('failed', `${error.message}${wait} [${error.code}]`);
  }

  /**
   * Password login. The gateway answers a request without an Origin (no browser) with the token in
   * the body and sets no cookie.
   */
  async login(username: string, password: string): Promise<LoginAnswer> {
    const body = await this.call<{ user: string; token?: string; expiresAt?: string }>('POST', '/api/login', { username, password });
    const token = body.token;
    if (!token) throw new ClientError('failed', 'the gateway logged you in but gave no token for a terminal client');
    return { user: body.user, token, expiresAt: body.expiresAt ?? null };
  }

  async logout(): Promise<void> {
    await this.call('POST', '/api/logout');
  }

  async me(): Promise<{ user: string; expiresAt: string | null }> {
    const body = await this.call<{ user: string; expiresAt?: string }>('GET', '/api/me');
    return { user: body.user, expiresAt: body.expiresAt ?? null };
  }

  async listSessions(): Promise<SessionView[]> {
    return (await this.call<{ sessions: SessionView[] }>('GET', '/api/sessions')).sessions;
  }

  async createSession(request: { name?: string; tenant?: string; cols?: number; rows?: number }): Promise<SessionView> {
    return this.call<SessionView>('POST', '/api/sessions', request);
  }

  async deleteSession(id: string): Promise<void> {
    await this.call('DELETE', `/api/sessions/${encodeURIComponent(id)}`);
  }

  async share(id: string, user: string, role: 'rw' | 'ro'): Promise<SessionView> {
    return this.call<SessionView>('PUT', `/api/sessions/${encodeURIComponent(id)}/shares/${encodeURIComponent(user)}`, { role });
  }

  /** A session by id, else by name (a name that several sessions have is refused, listing them). */
  async resolveSession(idOrName: string): Promise<SessionView> {
    const sessions = await this.listSessions();
    const byId = sessions.find((session) => session.id === idOrName);
    if (byId) return byId;
    const byName = sessions.filter((session) => session.name === idOrName);
    if (byName.length === 1) return byName[0]!;
    if (byName.length > 1) {
      throw new ClientError('usage', `${byName.length} sessions are named "${idOrName}": give an id (${byName.map((session) => session.id).join(', ')})`);
    }
    throw new ClientError('gone', `no session "${idOrName}" (by id or name) on ${this.target.url}: \`cloudterm sessions\` lists yours`);
  }
}
