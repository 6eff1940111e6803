// `cloudterm agent-host`: wires the configuration to the terminal host and the process's signals.
import type { CommandIo, Environment } from '../../core/src/command.js';
import { agentOptionSpecs, AGENT_LIMITS } from './agent-config.js';
import { HOST_USAGE, loadHostConfig } from './host-config.js';
import { createLogger } from '../../core/src/log.js';
import { ConfigError } from '../../core/src/config/options.js';
import { importPublicKey } from '../../core/src/keys/index.js';
import { startTerminalHost } from './terminal-host.js';

export async function runHostCommand(argv: readonly string[], env: Environment, io: CommandIo): Promise<number> {
  if (argv.includes('--help')) {
    io.stdout.write(`${HOST_USAGE}\n`);
    return 0;
  }
  const config = loadHostConfig(argv, env);
  const log = createLogger({ name: 'cloudterm-agent-host' }, io.stdout);
  const publicKey = await importPublicKey(config.publicKeyPem).catch((error: Error) => {
    throw new ConfigError([`the gateway's public key (--public-key-file or ${agentOptionSpecs.publicKey.env}): ${error.message}`]);
  });
  const host = await startTerminalHost({
    ...config,
    publicKey,
    ...AGENT_LIMITS,
    processMetrics: true,
    onRecordingError: (session, error) => log.error({ session, err: error.message }, 'Recording stopped: the session goes on unrecorded'),
  });
  log.info({ listen: `unix:${host.socketPath}`, pid: process.pid, command: config.command }, 'Terminal host listening');
  io.stop.addEventListener('abort', () => {
    log.info({ signal: io.stop.reason, terminals: host.terminals.size }, 'Stopping: ending every terminal');
    void host.stop();
  });
  await host.done;
  log.info(io.stop.aborted ? 'Terminal host stopped' : 'Terminal host exits: its last terminal ended');
  return 0;
}
