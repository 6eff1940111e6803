// The attach route, `GET /api/sessions/:id/attach` with `Upgrade: websocket`. It is handled on the
// raw server's upgrade event, not by fastify's router, because after the checks the socket is
// spliced to the agent byte for byte. Every check happens before any byte reaches the agent:
// Origin, the user's token, the user's right to the session.
import type { IncomingMessage } from 'node:http';
import { endWithJsonError } from '../../../core/src/net/raw-http.js';
import type { Duplex } from 'node:stream';
import type { Logger } from 'pino';
import { HttpError, clientError } from '../errors.js';
import { makeSplice, openUpstream, type ProxyCore, type SpliceEnd, type Spliced } from '../proxy/index.js';
import { parseListenAddress } from '../../../core/src/net/listen-address.js';
import { attachRole, type Principal, type SessionService } from '../sessions/index.js';
import type { SessionStore } from '../store/types.js';
import type { AttachClaims } from '../../../core/src/keys/attach-token.js';
import { CloseCode } from '../../../core/src/protocol/close-codes.js';
import type { Role } from '../../../core/src/protocol/messages.js';
import { tokenFromHeaders } from './credentials.js';
import { hostRefusal, type OriginPolicy } from './origin-policy.js';
import { audit } from './audit.js';
import type { GatewayMetrics, ProxyCounters } from './metrics.js';

export interface AttachDeps {
  readonly authenticate: (token: string | undefined) => Promise<Principal & { readonly tokenId: string }>;
  readonly sessions: SessionService;
  readonly store: SessionStore;
  readonly signAttachToken: (claims: AttachClaims) => Promise<string>;
  /** The sites served (Host) and the origins a cookie-authenticated upgrade may come from. */
  readonly origins: OriginPolicy;
  /** Attachments held at once, counting those still being set up; past it: 503 gateway_full. */
  readonly maxAttachments: number;
  /** Attachments one user holds at once, set-up ones included; past it: 409 attachment_limit. */
  readonly maxAttachmentsPerUser: number;
  readonly upstreamTimeoutMs: number;
  /** Take the client's address from X-Forwarded-For, as the API does (`--trust-proxy`). */
  readonly trustProxy: boolean;
  /** Which splice relays the bytes (native where the sockets allow). */
  readonly proxyCore: ProxyCore;
  /** Pass the browser's extension offer (permessage-deflate) on to the agent. */
  readonly compression: boolean;
  readonly activityIntervalMs: number;
  /** Whether a token was logged out (on any replica: the list is shared). */
  readonly isRevoked: (tokenId: string) => Promise<boolean>;
  /** How often live attachments are checked against the revocation list. */
  readonly revocationCheckMs: number;
  readonly metrics: GatewayMetrics;
  readonly log: Logger;
  readonly now?: () => number;
}

/** What the gateway remembers of each attachment it splices. */
interface AttachmentEntry {
  readonly sessionId: string;
  readonly tokenId: string;
  readonly user: string;
  /** The share the attachment was granted through; null for the owner and tenant admins. */
  readonly shareRole: Role | null;
  readonly openedAt: number;
  lastBytes: number;
}

const ATTACH_PATH = /^\/api\/sessions\/([A-Za-z0-9_-]{1,64})\/attach$/;

/** Shared by every upgrade socket (not a closure per attachment: they are many and long-lived). */
function destroyOnError(this: Duplex): void {
  this.destroy();
}

/** A Sec-WebSocket-Key is 16 random bytes in base64 (RFC 6455 4.1). */
const WEBSOCKET_KEY = /^[+/0-9A-Za-z]{22}==$/;
/** RFC 6455's, the one every browser has sent since 2012; drafts (8 and older) are refused. */
const WEBSOCKET_VERSION = '13';

/**
 * Checks the browser's half of the handshake before any token or agent work: the agent would
 * refuse a malformed one anyway, and the browser would then be told the agent failed (502).
 */
function checkHandshake(req: IncomingMessage): void {
  if (req.method !== 'GET') throw new HttpError('method_not_allowed', 'a WebSocket upgrade is a GET', { allow: 'GET' });
  if (!WEBSOCKET_KEY.test(req.headers['sec-websocket-key'] ?? '')) {
    throw new HttpError('bad_request', 'Sec-WebSocket-Key is missing or is not 16 bytes in base64');
  }
  if (req.headers['sec-websocket-version'] !== WEBSOCKET_VERSION) {
    throw new HttpError('bad_request', 'Sec-WebSocket-Version must be 13', { 'sec-websocket-version': '13' });
  }
}

/**
 * The role the attach asks for (`?role=ro`: an owner who wants to watch without risk); null when it
 * asks for none. It can only narrow what the user's access grants: the token then says `ro` and
 * the agent drops the attachment's input.
 */
function requestedRole(url: string): Role | null {
  const query = url.indexOf('?');
  if (query === -1) return null;
  const role = new URLSearchParams(url.slice(query + 1)).get('role');
  if (role === null) return null;
  if (role !== 'rw' && role !== 'ro') throw new HttpError('bad_request', `role must be rw or ro, not "${role.slice(0, 16)}"`);
  return role;
}

/** The browser's address, as fastify's request.ip gives it for the API (every proxy trusted). */
function clientAddress(req: IncomingMessage, trustProxy: boolean): string {
  const header = trustProxy ? req.headers['x-forwarded-for'] : undefined;
  const forwarded = (Array.isArray(header) ? header[0] : header)?.split(',')[0]?.trim();
  return forwarded || (req.socket.remoteAddress ?? '');
}

/** An attachment granted by a share closes (4403) once the share says another role, or none. */
function closeIfShareChanged(splice: Spliced, entry: AttachmentEntry, role: Role | null): void {
  if (entry.shareRole !== null && entry.shareRole !== role) splice.close(CloseCode.AccessChanged.code, CloseCode.AccessChanged.reason);
}

function refuse(socket: Duplex, error: HttpError): void {
  endWithJsonError(socket, error.status, error.toJSON(), error.headers);
}

export class AttachHandler implements ProxyCounters {
  /** Live splices and the session each serves. */
  private readonly splices = new Map<Spliced, AttachmentEntry>();
  private readonly activityTimer: NodeJS.Timeout;
  private readonly revocationTimer: NodeJS.Timeout;
  /** Sessions whose attachments ended since the last tick: their last bytes are activity too. */
  private readonly endedSince = new Set<string>();
  private accepting = true;
  /** Attachments per user, those being set up included: what maxAttachmentsPerUser bounds. */
  private readonly perUser = new Map<string, number>();
  /** Attaches past the checks' start and not yet spliced or refused: they hold descriptors too. */
  private settingUp = 0;
  /** Bytes of attachments that have ended; live ones are summed when asked. */
  private endedBytesUp = 0;
  private endedBytesDown = 0;

  constructor(private readonly deps: AttachDeps) {
    this.activityTimer = setInterval(() => void this.recordActivity(), deps.activityIntervalMs);
    this.activityTimer.unref();
    this.revocationTimer = setInterval(() => void this.closeRevoked().then(() => this.closeWithdrawnShares()), deps.revocationCheckMs);
    this.revocationTimer.unref();
  }

  get attachments(): number {
    return this.splices.size;
  }

  get bytesUp(): number {
    let total = this.endedBytesUp;
    for (const splice of this.splices.keys()) total += splice.bytesUp;
    return total;
  }

  get bytesDown(): number {
    let total = this.endedBytesDown;
    for (const splice of this.splices.keys()) total += splice.bytesDown;
    return total;
  }

  handle = (req: IncomingMessage, socket: Duplex, head: Buffer): void => {
    socket.on('error', destroyOnError);
    // Checked before any work (token verification, a session read): a full gateway stays cheap.
    const full = this.fullRefusal();
    if (full) {
      this.deps.metrics.proxyErrors.inc({ reason: full.code });
      refuse(socket, full);
      return;
    }
    this.settingUp += 1;
    this.attach(req, socket, head)
      .catch((error: unknown) => {
        // A session read that timed out under load is 503, which the page retries; never 500.
        const { error: httpError, unexpected } = clientError(error);
        if (unexpected) this.deps.log.error({ err: error }, 'Attach failed');
        this.deps.metrics.proxyErrors.inc({ reason: httpError.code });
        if (!socket.destroyed) refuse(socket, httpError);
      })
      .finally(() => {
        this.settingUp -= 1;
      });
  };

  private async attach(req: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
    if (!this.deps.origins.hostServed(req.headers.host)) throw hostRefusal(req.headers.host);
    if (!this.accepting) throw new HttpError('shutting_down');
    const path = (req.url ?? '').split('?')[0] ?? '';
    const match = ATTACH_PATH.exec(path);
    if (!match) throw new HttpError('not_found', 'WebSocket upgrades are served at /api/sessions/<id>/attach only');
    checkHandshake(req);
    const asked = requestedRole(req.url ?? '');
    const refusal = this.deps.origins.refusal(req.headers);
    if (refusal) throw new HttpError('origin_forbidden', refusal);
    const principal = await this.deps.authenticate(tokenFromHeaders(req.headers));
    const overLimit = this.userLimitRefusal(principal.user);
    if (overLimit) throw overLimit;
    this.perUser.set(principal.user, (this.perUser.get(principal.user) ?? 0) + 1);
    // Until a splice holds it (and gives it back when it ends), the place is the attach's to give back.
    let spliced = false;
    try {
      spliced = await this.splice(req, socket, head, principal, match[1]!, asked);
    } finally {
      if (!spliced) this.releaseUser(principal.user);
    }
  }

  /**
   * What an attach to `sessionId` would be told now, short of reaching its agent; resolves when
   * it would be tried. The page asks (a plain GET of the attach path) after its socket was refused,
   * since browsers hide a refused upgrade's HTTP status.
   */
  async check(principal: Principal, sessionId: string): Promise<void> {
    if (!this.accepting) throw new HttpError('shutting_down');
    const refusal = this.fullRefusal() ?? this.userLimitRefusal(principal.user);
    if (refusal) throw refusal;
    await this.runningSession(principal, sessionId);
  }

  /** The session, the caller's access to it and its agent's address; refused unless it runs. */
  private async runningSession(principal: Principal, sessionId: string) {
    const { record, access } = await this.deps.sessions.find(principal, sessionId);
    const endpoint = parseListenAddress(record.endpoint, '127.0.0.1');
    if (record.state !== 'running' || typeof endpoint === 'string') {
      throw new HttpError('upstream_failed', 'the session is not running yet');
    }
    return { record, access, endpoint };
  }

  private fullRefusal(): HttpError | null {
    if (this.splices.size + this.settingUp < this.deps.maxAttachments) return null;
    return new HttpError('gateway_full', `this gateway holds its maximum of ${this.deps.maxAttachments} attachments: retry shortly`, { 'retry-after': '1' });
  }

  private userLimitRefusal(user: string): HttpError | null {
    const held = this.perUser.get(user) ?? 0;
    if (held < this.deps.maxAttachmentsPerUser) return null;
    return new HttpError('attachment_limit', `you have ${held} terminals attached through this gateway, its most for one user: close one first`);
  }

  private releaseUser(user: string): void {
    const held = (this.perUser.get(user) ?? 1) - 1;
    if (held > 0) this.perUser.set(user, held);
    else this.perUser.delete(user);
  }

  /** Opens the agent's end and splices it to the browser's; false when the browser left meanwhile. */
  private async splice(
    req: IncomingMessage,
    socket: Duplex,
    head: Buffer,
    principal: Principal & { readonly tokenId: string },
    sessionId: string,
    asked: Role | null,
  ): Promise<boolean> {
    const { record, access, endpoint } = await this.runningSession(principal, sessionId);
    const granted = attachRole(access);
    if (asked === 'rw' && granted === 'ro') throw new HttpError('forbidden', 'your access to this session is read-only');
    const role = asked ?? granted;
    const attachToken = await this.deps.signAttachToken({ sessionId: record.id, user: principal.user, role });
    const upstream = await openUpstream({
      endpoint,
      sessionId: record.id,
      attachToken,
      browserHeaders: req.headers,
      forwardExtensions: this.deps.compression,
      timeoutMs: this.deps.upstreamTimeoutMs,
    });
    if (!upstream.ok) {
      this.deps.log.warn({ session: record.id, reason: upstream.reason, detail: upstream.detail }, 'Agent refused or unreachable');
      // The agent says its process ended, or the backend says the terminal is gone for good:
      // forget the session. Otherwise it may be briefly unreachable (a pod restarting): 502/504.
      if (upstream.detail === 'session_ended' || !(await this.deps.sessions.isRunning(record))) {
        await this.deps.sessions.ended(record.id);
        throw new HttpError('session_not_found', 'the session has ended');
      }
      throw new HttpError(upstream.reason === 'timeout' ? 'upstream_timeout' : 'upstream_failed');
    }
    if (socket.destroyed || !this.accepting) {
      upstream.socket.destroy();
      return false;
    }
    // Read now: the native core takes the descriptor and destroys the socket object.
    const address = clientAddress(req, this.deps.trustProxy);
    const splice = makeSplice(this.deps.proxyCore, socket, upstream.socket, this.onSpliceEnd);
    // Counted before it starts: a splice may end while starting (a browser already gone).
    const shareRole = access === 'rw' || access === 'ro' ? access : null;
    const now = this.deps.now ?? Date.now;
    this.splices.set(splice, { sessionId: record.id, tokenId: principal.tokenId, user: principal.user, shareRole, openedAt: now(), lastBytes: 0 });
    try {
      splice.start(upstream.responseHead, upstream.leftover, head);
    } catch (error) {
      // The native core could not copy a descriptor: the sockets are untouched, the browser is told.
      this.splices.delete(splice);
      upstream.socket.destroy();
      if ((error as NodeJS.ErrnoException).code === 'EMFILE') {
        throw new HttpError('gateway_full', 'this gateway is out of file descriptors: retry shortly', { 'retry-after': '1' });
      }
      throw error;
    }
    // The splice handles the socket's errors from here: one listener fewer on every attachment.
    socket.off('error', destroyOnError);
    audit(this.deps.log, { event: 'attach.open', user: principal.user, session: record.id, role, address });
    void this.deps.store.touch(record.id, now()).catch(() => undefined);
    return true;
  }

  /** One function for every splice (an arrow field, so it needs no closure per attachment). */
  private readonly onSpliceEnd = (splice: Spliced, how: SpliceEnd): void => {
    const entry = this.splices.get(splice);
    this.splices.delete(splice);
    // Read once: for the native core each is a call into the addon.
    const bytesUp = splice.bytesUp;
    const bytesDown = splice.bytesDown;
    this.endedBytesUp += bytesUp;
    this.endedBytesDown += bytesDown;
    if (entry) {
      this.releaseUser(entry.user);
      const seconds = Math.round(((this.deps.now ?? Date.now)() - entry.openedAt) / 1000);
      audit(this.deps.log, { event: 'attach.close', user: entry.user, session: entry.sessionId, end: how, seconds, bytesIn: bytesUp, bytesOut: bytesDown });
    }
    if (how === 'agent-failed') this.deps.metrics.proxyErrors.inc({ reason: 'agent_failed' });
    if (entry && bytesUp + bytesDown !== entry.lastBytes) this.endedSince.add(entry.sessionId);
  };

  /** Traffic is activity: slide the expiry of every session whose attachments moved bytes. */
  private async recordActivity(): Promise<void> {
    const active = new Set<string>(this.endedSince);
    this.endedSince.clear();
    for (const [splice, entry] of this.splices) {
      const bytes = splice.bytesUp + splice.bytesDown;
      if (bytes !== entry.lastBytes) {
        entry.lastBytes = bytes;
        active.add(entry.sessionId);
      }
    }
    await Promise.all([...active].map((id) => this.recordOne(id)));
  }

  private async recordOne(sessionId: string): Promise<void> {
    await this.deps.store.touch(sessionId, (this.deps.now ?? Date.now)()).catch((error: unknown) => {
      this.deps.log.warn({ session: sessionId, err: error }, 'Could not record activity');
    });
  }

  /** Closes every attachment of one session (deleted or reaped). */
  closeSession(sessionId: string): void {
    for (const [splice, entry] of this.splices) {
      if (entry.sessionId === sessionId) splice.close(CloseCode.SessionGone.code, CloseCode.SessionGone.reason);
    }
  }

  /** Logout on this replica: closes the attachments opened with that token (4401) at once. */
  closeToken(tokenId: string): void {
    for (const [splice, entry] of this.splices) {
      if (entry.tokenId === tokenId) splice.close(CloseCode.Unauthorized.code, CloseCode.Unauthorized.reason);
    }
  }

  /**
   * A share was taken back (role null) or changed on this replica: the user's attachments that
   * came through the old share reconnect (4403), to no session or with the new role.
   */
  closeChangedShare(sessionId: string, user: string, role: Role | null): void {
    for (const [splice, entry] of this.splices) {
      if (entry.sessionId === sessionId && entry.user === user) closeIfShareChanged(splice, entry, role);
    }
  }

  /**
   * Shares changed on another replica: each session with share-based attachments here is read
   * once per check. A store outage skips the check; a session gone is closed by its own end.
   */
  private async closeWithdrawnShares(): Promise<void> {
    const bySession = new Map<string, Spliced[]>();
    for (const [splice, entry] of this.splices) {
      if (entry.shareRole === null) continue;
      const splices = bySession.get(entry.sessionId);
      if (splices) splices.push(splice);
      else bySession.set(entry.sessionId, [splice]);
    }
    for (const [sessionId, splices] of bySession) {
      const record = await this.deps.store.get(sessionId).catch(() => null);
      if (!record) continue;
      for (const splice of splices) {
        // An attachment that ended while the record was read is no longer in the map.
        const entry = this.splices.get(splice);
        if (entry) closeIfShareChanged(splice, entry, record.shares[entry.user] ?? null);
      }
    }
  }

  /**
   * A logout on another replica revokes the token in the shared list: close what it opened here.
   * One lookup per distinct token per check; a store outage skips the check (attachments stay).
   */
  private async closeRevoked(): Promise<void> {
    const tokens = new Set<string>();
    for (const entry of this.splices.values()) tokens.add(entry.tokenId);
    for (const tokenId of tokens) {
      const revoked = await this.deps.isRevoked(tokenId).catch(() => false);
      if (revoked) this.closeToken(tokenId);
    }
  }

  /** Shutdown: refuse new attachments; tell the attached to reconnect elsewhere and resume. */
  closeAll(): Promise<void> {
    this.accepting = false;
    clearInterval(this.activityTimer);
    clearInterval(this.revocationTimer);
    for (const splice of this.splices.keys()) splice.close(CloseCode.GatewayRestart.code, CloseCode.GatewayRestart.reason);
    // One last activity record for everything still counted: one store call per session.
    return this.recordActivity();
  }
}

