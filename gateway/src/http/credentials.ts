// Where a request's credentials come from (the login cookie or a bearer token), the cookie's
// attributes, and the Origin check that every cookie-authenticated upgrade and write must pass.
import type { IncomingHttpHeaders } from 'node:http';

export const TOKEN_COOKIE = 'cloudterm_token';

/** The `Authorization: Bearer` token, if any: set by scripts and the terminal client, never by a browser on its own. */
export function bearerToken(headers: IncomingHttpHeaders): string | undefined {
  const authorization = headers.authorization;
  if (!authorization) return undefined;
  return /^Bearer\s+(\S+)$/i.exec(authorization)?.[1];
}

export function tokenFromHeaders(headers: IncomingHttpHeaders): string | undefined {
  const bearer = bearerToken(headers);
  if (bearer) return bearer;
  const cookie = headers.cookie;
  if (!cookie) return undefined;
  for (const part of cookie.split(';')) {
    const eq = part.indexOf('=');
    if (eq !== -1 && part.slice(0, eq).trim() === TOKEN_COOKIE) return part.slice(eq + 1).trim() || undefined;
  }
  return undefined;
}

export function tokenCookie(token: string, maxAgeSeconds: number, secure: boolean): string {
  return `${TOKEN_COOKIE}=${token}; Path=/; Max-Age=${maxAgeSeconds}; HttpOnly; SameSite=Strict${secure ? '; Secure' : ''}`;
}

export function clearedTokenCookie(secure: boolean): string {
  return tokenCookie('', 0, secure);
}

/**
 * With configured origins (a public URL), only those; otherwise same-origin: the Origin's host
 * must be the Host the request was sent to. A missing Origin is refused — browsers always send it
 * on WebSocket upgrades, and other clients can.
 */
export function originAllowed(headers: IncomingHttpHeaders, allowedOrigins: readonly string[]): boolean {
  const origin = headers.origin;
  if (!origin) return false;
  if (allowedOrigins.length > 0) return allowedOrigins.includes(origin);
  try {
    const url = new URL(origin);
    return (url.protocol === 'http:' || url.protocol === 'https:') && url.host === headers.host;
  } catch {
    return false;
  }
}
