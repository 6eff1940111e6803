// Which sites the gateway serves, decided by configuration alone: the origins of `--public-url` and
// `--allowed-origins`, and those of the address it listens on (`http://127.0.0.1:PORT` and
// `http://localhost:PORT` for a loopback listener). Never from the request itself: a page on an
// attacker's name that resolves to 127.0.0.1 (DNS rebinding) sends `Host: evil.example:PORT`
// and `Origin: http://evil.example:PORT`, which agree with each other and with nothing here.
//
// Two checks use it. A request whose Host is not a served host is refused (421) before anything
// else; a write or an upgrade authenticated by the cookie must come from a served origin.
import type { IncomingHttpHeaders } from 'node:http';
import { isIP } from 'node:net';
import type { ListenAddress } from '../../../core/src/net/listen-address.js';
import { credentialSource } from './credentials.js';
import { HttpError } from '../errors.js';

export type Scheme = 'http' | 'https';

/** Host names are echoed in errors up to this length. */
const ECHOED_HOST_CHARS = 120;

/** 421: the request was meant for another server, as far as this one knows. */
export function hostRefusal(host: string | undefined): HttpError {
  const named = host === undefined ? 'requests without a Host' : `"${host.length > ECHOED_HOST_CHARS ? `${host.slice(0, ECHOED_HOST_CHARS)}…` : host}"`;
  return new HttpError('host_not_served', `this gateway does not serve ${named}: open it at its own address, or name this one with --public-url or --allowed-origins`);
}

/** A served origin, normalised (`new URL().origin`: lower case, no default port). */
function normalOrigin(origin: string): string | null {
  try {
    const url = new URL(origin);
    if (url.protocol !== 'http:' && url.protocol !== 'https:') return null;
    return url.origin;
  } catch {
    return null;
  }
}

function isLoopbackIp(host: string): boolean {
  return (isIP(host) === 4 && host.startsWith('127.')) || host === '::1';
}

function hostPart(host: string): string {
  return host.includes(':') ? `[${host}]` : host;
}

/**
 * The origins a listener serves by its address alone. A loopback listener: 127.0.0.1 and
 * localhost (and [::1] for an IPv6 one). A wildcard one (0.0.0.0, ::): those and every address of
 * this machine's interfaces. Any other: its own host. A unix socket: none (a proxy in front names
 * the site with --public-url).
 */
export function listenerOrigins(listen: ListenAddress, port: number, scheme: Scheme, interfaceAddresses: readonly string[]): string[] {
  if ('path' in listen) return [];
  const origin = (host: string) => `${scheme}://${hostPart(host)}:${port}`;
  const loopback = [origin('127.0.0.1'), origin('localhost'), ...(listen.host === '::1' || listen.host === '::' ? [origin('::1')] : [])];
  if (listen.host === '0.0.0.0' || listen.host === '::') return [...new Set([...loopback, ...interfaceAddresses.map(origin)])];
  if (isLoopbackIp(listen.host) || listen.host === 'localhost') return [...new Set([...loopback, origin(listen.host)])];
  return [origin(listen.host)];
}

export class OriginPolicy {
  private readonly origins = new Set<string>();
  /** The Host headers served: each origin's host, as a browser sends it. */
  private readonly hosts = new Set<string>();
  /** Loopback listeners' port: a loopback IP literal on it is served too (it cannot be a rebound name). */
  private loopbackPort: number | null = null;

  /** @param configured `--public-url` and `--allowed-origins`, checked by the configuration */
  constructor(configured: readonly string[]) {
    this.serve(configured);
  }

  /** Adds origins (those of the listener, once it is bound). */
  serve(origins: readonly string[]): void {
    for (const origin of origins) {
      const normal = normalOrigin(origin);
      if (!normal) continue;
      this.origins.add(normal);
      const url = new URL(normal);
      this.hosts.add(url.host);
      // A browser leaves the default port out of Host; curl and others may put it in.
      if (!url.port) this.hosts.add(`${url.hostname}:${url.protocol === 'https:' ? 443 : 80}`);
      if (isLoopbackIp(url.hostname.replace(/^\[|\]$/g, '')) || url.hostname === 'localhost') this.loopbackPort = Number(url.port);
    }
  }

  /** Whether a request's Host names a site this gateway serves. */
  hostServed(host: string | undefined): boolean {
    if (!host) return false;
    const lower = host.toLowerCase();
    if (this.hosts.has(lower)) return true;
    if (this.loopbackPort === null) return false;
    const match = /^(?:\[([^\]]+)\]|([^:]+)):(\d+)$/.exec(lower);
    return match !== null && Number(match[3]) === this.loopbackPort && isLoopbackIp(match[1] ?? match[2]!);
  }

  /** Whether an Origin header names a served origin ("null" and malformed ones never do). */
  originAllowed(origin: string | undefined): boolean {
    if (!origin) return false;
    const normal = normalOrigin(origin);
    return normal !== null && this.origins.has(normal);
  }

  /**
   * Why a write or an upgrade may not go on, or null when it may. An Origin, when sent, must be a
   * served one. Without one: a bearer token needs none (scripts, the terminal client), nor does a
   * request with no credential (it is refused as unauthenticated); the cookie needs a browser
   * saying `Sec-Fetch-Site: same-origin` (the Host check has made sure that origin is ours).
   */
  refusal(headers: IncomingHttpHeaders): string | null {
    const origin = headers.origin;
    if (origin !== undefined) return this.originAllowed(origin) ? null : `Origin "${origin}" is not allowed`;
    if (credentialSource(headers) !== 'cookie' || headers['sec-fetch-site'] === 'same-origin') return null;
    return 'a request authenticated by the cookie must carry the Origin of the page; scripts send Authorization: Bearer instead';
  }
}
