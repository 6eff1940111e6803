// `cloudterm agent`: wires the configuration to the agent server and the process's signals.
import type { CommandIo, Environment } from '../../core/src/command.js';
import { AGENT_LIMITS, AGENT_USAGE, agentOptionSpecs, loadAgentConfig } from './agent-config.js';
import { formatListenAddress } from '../../core/src/net/listen-address.js';
import { createLogger } from '../../core/src/log.js';
import { ConfigError } from '../../core/src/config/options.js';
import { importPublicKey } from '../../core/src/keys/index.js';
import { startAgent } from './agent-server.js';

export async function runAgentCommand(argv: readonly string[], env: Environment, io: CommandIo): Promise<number> {
  if (argv.includes('--help')) {
    io.stdout.write(`${AGENT_USAGE}\n`);
    return 0;
  }
  const config = loadAgentConfig(argv, env);
  const log = createLogger({ name: 'cloudterm-agent', base: { session: config.sessionId } }, io.stdout);
  const publicKey = await importPublicKey(config.publicKeyPem).catch((error: Error) => {
    throw new ConfigError([`the gateway's public key (--public-key-file or ${agentOptionSpecs.publicKey.env}): ${error.message}`]);
  });
  const agent = await startAgent({
    ...config,
    publicKey,
    ...AGENT_LIMITS,
    processMetrics: true,
    onRecordingError: (error) => log.error({ err: error.message, path: config.recordPath }, 'Recording stopped: the session goes on unrecorded'),
  });
  log.info({ listen: formatListenAddress(agent.address), pid: agent.session.pid, command: config.command }, 'Agent listening');
  io.stop.addEventListener('abort', () => {
    log.info({ signal: io.stop.reason }, 'Stopping: ending the session process');
    void agent.stop();
  });
  const status = await agent.done;
  log.info({ exitCode: status.code, signal: status.signal }, 'Session ended');
  return 0;
}
