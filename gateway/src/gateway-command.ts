// `cloudterm local` (one machine: local shells, in-process store, first-run admin) and
// `cloudterm gateway` (shared deployments: keys and users from files, Redis).
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';
import { existsSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import type { CommandIo, Environment } from '../../core/src/command.js';
import { GATEWAY_USAGE, loadGatewayConfig, type GatewayMode } from './config/gateway-config.js';
import { prepareDirectory } from './config/directory.js';
import { ensureFirstUser, FIRST_USER } from './local/first-run.js';
import { startGateway } from './gateway.js';

/** The built page: gateway/ui/dist next to the sources, found from here in src/ and in dist/. */
function findUiRoot(): string | null {
  const here = dirname(fileURLToPath(import.meta.url));
  for (const candidate of [join(here, '..', 'ui', 'dist'), join(here, '..', '..', '..', 'gateway', 'ui', 'dist')]) {
    if (existsSync(join(candidate, 'manifest.json'))) return candidate;
  }
  return null;
}

export function gatewayCommand(mode: GatewayMode) {
  return async (argv: readonly string[], env: Environment, io: CommandIo & { selfCommand: readonly string[] }): Promise<number> => {
    if (argv.includes('--help')) {
      io.stdout.write(`${GATEWAY_USAGE}\n`);
      return 0;
    }
    const config = loadGatewayConfig(mode, argv, env);
    await prepareDirectory(config.dataDir, 'data-dir');
    const firstPassword = mode === 'local' && config.usersFile ? await ensureFirstUser(config.usersFile) : null;
    const uiRoot = findUiRoot();
    let gateway;
    try {
      gateway = await startGateway(config, {
        selfCommand: io.selfCommand,
        env,
        uiRoot,
        logDestination: io.stdout,
      });
    } catch (error) {
      // The admin password of a first start is shown only once the gateway runs: a start that
      // failed (a port in use, a bad certificate) must not keep a user whose password nobody saw.
      if (firstPassword && config.usersFile) await rm(config.usersFile, { force: true });
      throw error;
    }
    if (!uiRoot) gateway.log.warn('The page is not built (run npm run build): serving the API only');
    if (mode === 'local') {
      // Said to the person at the terminal, not to the log: the password is shown this once.
      io.stderr.write(
        `\n  CloudTerm is running at ${gateway.url}\n` +
          (firstPassword
            ? `  Log in as "${FIRST_USER}" with password: ${firstPassword}\n` +
              `  (shown once; only its hash is kept in ${config.usersFile})\n\n`
            : `  Users: ${config.usersFile}  (add one: cloudterm hash-password --user NAME >> that file)\n\n`),
      );
    }
    await new Promise<void>((resolve) => io.stop.addEventListener('abort', () => resolve(), { once: true }));
    gateway.log.info('Shutting down: attached browsers are told to reconnect');
    await gateway.close();
    return 0;
  };
}
