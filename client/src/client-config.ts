// Where the client keeps its state and which options every command shares. The environment is
// read here and through the option specs only (XDG_CONFIG_HOME, HOME, CLOUDTERM_*).
import { isAbsolute, join } from 'node:path';
import type { OptionSpec } from '../../core/src/config/options.js';
import type { Environment } from '../../core/src/command.js';
import { ClientError } from './errors.js';

/** `$XDG_CONFIG_HOME/cloudterm`, else `~/.config/cloudterm` (as gh and many others do). */
export function configDirectory(env: Environment): string {
  const xdg = env.XDG_CONFIG_HOME;
  // The XDG spec: a relative value is invalid and is ignored.
  if (xdg && isAbsolute(xdg)) return join(xdg, 'cloudterm');
  if (!env.HOME) throw new ClientError('usage', 'neither XDG_CONFIG_HOME nor HOME is set: the client has nowhere to keep its login');
  return join(env.HOME, '.config', 'cloudterm');
}

/** The options of every command that talks to a gateway. */
export const GATEWAY_OPTIONS = {
  url: { flag: 'url', env: 'CLOUDTERM_URL', kind: 'string', help: 'the gateway (default: the one logged in to last)' },
  caFile: { flag: 'ca-file', env: 'CLOUDTERM_CA_FILE', kind: 'string', help: "PEM certificates to trust for the gateway's HTTPS (default: the system's, or the one given at login)" },
} as const satisfies Record<string, OptionSpec>;

/**
 * A gateway's URL as the client keys it: http or https, no credentials, query or fragment, no
 * trailing slash (a gateway may be served under a path prefix).
 */
export function normalizeGatewayUrl(text: string): string {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new ClientError('usage', `"${text}" is not a URL: give the gateway's address, like https://terminals.example.com`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new ClientError('usage', `"${text}": the gateway's URL starts with https:// (or http://)`);
  if (url.username || url.password) throw new ClientError('usage', `"${text}": no user or password in the URL (they would stay in shell history)`);
  if (url.search || url.hash) throw new ClientError('usage', `"${text}": a gateway's URL has no query or fragment`);
  return `${url.origin}${url.pathname.replace(/\/+$/, '')}`;
}
