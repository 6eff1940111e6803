// Where a request's credentials come from (the login cookie or a bearer token), the cookie's
// attributes (the Origin rule they must pass is in origin-policy.ts).
import type { IncomingHttpHeaders } from 'node:http';

export const TOKEN_COOKIE = 'cloudterm_token';

export function tokenFromHeaders(headers: IncomingHttpHeaders): string | undefined {
  const authorization = headers.authorization;
  if (authorization) {
    const match = /^Bearer\s+(\S+)$/i.exec(authorization);
    if (match) return match[1];
  }
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

/** Which credential a request carries; the bearer token wins, as in tokenFromHeaders. */
export function credentialSource(headers: IncomingHttpHeaders): 'bearer' | 'cookie' | null {
  if (headers.authorization && /^Bearer\s+\S+$/i.test(headers.authorization)) return 'bearer';
  return tokenFromHeaders(headers) === undefined ? null : 'cookie';
}
