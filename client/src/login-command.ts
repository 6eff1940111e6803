// `cloudterm login URL`: a password (asked without echo, or the first line of a non-terminal
// stdin) or an identity provider's token (`--token-stdin`) becomes a stored bearer token.
// `cloudterm logout`: the gateway revokes the token; the client forgets it either way.
import { resolve } from 'node:path';
import type { ReadStream } from 'node:tty';
import { clientCommand, openGateway } from './command.js';
import { GATEWAY_OPTIONS, configDirectory, normalizeGatewayUrl } from './client-config.js';
import { CredentialsStore } from './credentials-store.js';
import { ClientError } from './errors.js';
import { GatewayApi } from './gateway-api.js';
import { ask, askSecret, isTerminal, readLine } from './prompt.js';
import { loadCa } from './tls-trust.js';

const LOGIN = {
  synopsis: 'login URL',
  summary: 'log in to a gateway; the token is kept in ~/.config/cloudterm/credentials.json (0600)',
  positionals: ['URL'],
  options: {
    user: { flag: 'user', env: 'CLOUDTERM_USER', kind: 'string', help: 'the user name (asked when not given)' },
    tokenStdin: { flag: 'token-stdin', kind: 'boolean', help: "read an identity provider's token (OIDC) from stdin instead of a password" },
    caFile: GATEWAY_OPTIONS.caFile,
  },
} as const;

export const runLogin = clientCommand('login', LOGIN, async ({ values, args }, env, io) => {
  const url = normalizeGatewayUrl(args[0]!);
  const caFile = values.caFile === undefined ? null : resolve(values.caFile);
  const ca = await loadCa(caFile);
  const store = new CredentialsStore(configDirectory(env));
  const interactive = isTerminal(io.stdin);
  let login: { user: string; token: string; expiresAt: string | null };
  if (values.tokenStdin) {
    const token = (await readLine(io.stdin)).trim();
    if (!token) throw new ClientError('usage', '--token-stdin: stdin held no token');
    const me = await new GatewayApi({ url, ca, token }).me();
    login = { user: me.user, token, expiresAt: me.expiresAt ?? null };
  } else {
    if (values.user === undefined && !interactive) throw new ClientError('usage', 'stdin is not a terminal: give --user NAME (and the password on stdin)');
    const user = values.user ?? (await ask(`user for ${url}: `, io.stdin, io.stderr)).trim();
    if (!user) throw new ClientError('usage', 'no user name given');
    const password = interactive ? await askSecret(`password for ${user}@${url}: `, io.stdin as ReadStream, io.stderr) : await readLine(io.stdin);
    login = await new GatewayApi({ url, ca, token: null }).login(user, password);
  }
  await store.save(url, { ...login, caFile });
  const until = login.expiresAt ? ` until ${new Date(login.expiresAt).toLocaleString()}` : '';
  io.stderr.write(`logged in to ${url} as ${login.user}${until}\n`);
  return 0;
});

const LOGOUT = {
  synopsis: 'logout',
  summary: 'revoke the stored token and forget it',
  positionals: [],
  options: GATEWAY_OPTIONS,
} as const;

export const runLogout = clientCommand('logout', LOGOUT, async ({ values }, env, io) => {
  const { api, url, store } = await openGateway(values, env);
  let problem: ClientError | null = null;
  try {
    await api.logout();
  } catch (error) {
    if (!(error instanceof ClientError)) throw error;
    // A token the gateway already refuses needs no revoking.
    if (error.kind !== 'refused') problem = error;
  }
  await store.remove(url);
  if (problem) {
    io.stderr.write(`cloudterm logout: forgot the login to ${url} here, but could not revoke it (${problem.message}): it stays valid until it expires\n`);
    return problem.exitCode;
  }
  io.stderr.write(`logged out of ${url}\n`);
  return 0;
});
