// What every client command shares: --help, the stored login and the gateway it names, and one
// way of reporting a failure (a line on stderr, the exit status of the error table).
import { resolve } from 'node:path';
import type { OptionSpec } from '../../core/src/config/options.js';
import type { Command, CommandIo, Environment } from '../../core/src/command.js';
import { commandUsage, parseCommand, wantsHelp, type CommandSpec, type ParsedCommand } from './args.js';
import { configDirectory, normalizeGatewayUrl } from './client-config.js';
import { CredentialsStore, type StoredLogin } from './credentials-store.js';
import { ClientError } from './errors.js';
import { GatewayApi } from './gateway-api.js';
import { loadCa } from './tls-trust.js';

/** Wraps a command's body: --help, parsing, and its ClientErrors as a message and an exit status. */
export function clientCommand<S extends Record<string, OptionSpec>>(
  name: string,
  spec: CommandSpec<S>,
  run: (parsed: ParsedCommand<S>, env: Environment, io: CommandIo) => Promise<number>,
): Command {
  return async (argv, env, io) => {
    if (wantsHelp(argv)) {
      io.stdout.write(`${commandUsage(spec)}\n`);
      return 0;
    }
    try {
      return await run(parseCommand(spec, argv, env), env, io);
    } catch (error) {
      if (!(error instanceof ClientError)) throw error;
      io.stderr.write(`cloudterm ${name}: ${error.message}\n`);
      return error.exitCode;
    }
  };
}

export interface OpenGateway {
  readonly api: GatewayApi;
  readonly url: string;
  readonly login: StoredLogin;
  readonly store: CredentialsStore;
  /** The CA certificates in use (for the WebSocket too). */
  readonly ca: Buffer | undefined;
}

/** The stored login to `--url` (or the last gateway logged in to), ready to call. */
export async function openGateway(values: { url?: string | undefined; caFile?: string | undefined }, env: Environment): Promise<OpenGateway> {
  const store = new CredentialsStore(configDirectory(env));
  const { url, login } = await store.find(values.url === undefined ? null : normalizeGatewayUrl(values.url));
  const ca = await loadCa(values.caFile !== undefined ? resolve(values.caFile) : login.caFile);
  return { api: new GatewayApi({ url, ca, token: login.token }), url, login, store, ca };
}
