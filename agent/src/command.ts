// `cloudterm agent`: wires the configuration to the agent server and the process's signals.
import pino from 'pino';
import type { CommandIo, Environment } from '../../cli/src/commands.js';
import { AGENT_USAGE, loadAgentConfig } from './agent-config.js';
import { formatListenAddress } from '../../core/src/net/listen-address.js';
import { ConfigError } from '../../core/src/config/options.js';
import { importPublicKey } from '../../core/src/keys/index.js';
import { startAgent } from './agent-server.js';

export async function runAgentCommand(argv: readonly string[], env: Environment, io: CommandIo): Promise<number> {
  if (argv.includes('--help')) {
    io.stdout.write(`${AGENT_USAGE}\n`);
    return 0;
  }
  const config = loadAgentConfig(argv, env);
  const log = pino({ name: 'cloudterm-agent', base: { session: config.sessionId } }, io.stdout);
  const publicKey = await importPublicKey(config.publicKeyPem).catch((error: Error) => {
    throw new ConfigError([`the gateway's public key (--public-key-file or CLOUDTERM_ATTACH_PUBLIC_KEY): ${error.message}`]);
  });
  const agent = await startAgent({
    ...config,
    publicKey,
    maxMessageBytes: 1024 * 1024,
    attachTimeoutMs: 10_000,
    drainTimeoutMs: 5_000,
    processMetrics: true,
    onRecordingError: (error) => log.error({ err: error.message, path: config.recordPath }, 'Recording stopped: the session goes on unrecorded'),
  });
  log.info({ listen: formatListenAddress(config.listen), pid: agent.session.pid, command: config.command }, 'Agent listening');
  io.stop.addEventListener('abort', () => {
    log.info({ signal: io.stop.reason }, 'Stopping: ending the session process');
    void agent.stop();
  });
  const status = await agent.done;
  log.info({ exitCode: status.code, signal: status.signal }, 'Session ended');
  return 0;
}
