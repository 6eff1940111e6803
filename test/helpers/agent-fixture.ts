// Starts a real agent (real PTY, real WebSocket server) in-process on a free port, with a fresh
// key pair, and mints attach tokens for it.
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startAgent, type AgentOptions, type RunningAgent } from '../../agent/src/agent-server.js';
import { AGENT_LIMITS } from '../../agent/src/agent-config.js';
import { signAttachToken } from '../../core/src/keys/attach-token.js';
import { generateSigningKeyPair } from '../../core/src/keys/index.js';
import type { CryptoKey } from 'jose';
import type { Role } from '../../core/src/protocol/messages.js';
import { TestClient, type ConnectOptions } from './agent-client.js';

export interface AgentFixture {
  readonly agent: RunningAgent;
  readonly url: string;
  readonly sessionId: string;
  readonly privateKey: CryptoKey;
  readonly dir: string;
  token(role?: Role, user?: string, sessionId?: string): Promise<string>;
  connect(role?: Role, options?: Partial<ConnectOptions>): Promise<TestClient>;
  stop(): Promise<void>;
}

export async function startAgentFixture(options: Partial<AgentOptions> & { command: string; args?: string[] }): Promise<AgentFixture> {
  const keys = await generateSigningKeyPair();
  const dir = await mkdtemp(join(tmpdir(), 'cloudterm-agent-'));
  const sessionId = `s-${Math.random().toString(36).slice(2, 10)}`;
  const agent = await startAgent({
    sessionId,
    listen: { host: '127.0.0.1', port: 0 },
    publicKey: keys.publicKey,
    args: [],
    cwd: dir,
    env: { PATH: '/usr/local/bin:/usr/bin:/bin', HOME: dir, TERM: 'xterm-256color', LANG: 'C.UTF-8', PS1: '$ ' },
    cols: 80,
    rows: 24,
    ringBytes: 1024 * 1024,
    maxAttachments: 256,
    ...AGENT_LIMITS,
    resumeWindowMs: 0,
    drainTimeoutMs: 2_000,
    recordPath: null,
    processMetrics: false,
    ...options,
  });
  const port = 'port' in agent.address ? agent.address.port : 0;
  const url = `ws://127.0.0.1:${port}/attach`;
  const token = (role: Role = 'rw', user = 'alice', sid = sessionId) =>
    signAttachToken(keys.privateKey, { sessionId: sid, user, role });
  return {
    agent,
    url,
    sessionId,
    privateKey: keys.privateKey,
    dir,
    token,
    connect: async (role: Role = 'rw', extra: Partial<ConnectOptions> = {}) =>
      TestClient.connect({ url, headers: { authorization: `Bearer ${await token(role)}` }, ...extra }),
    stop: async () => {
      await agent.stop();
    },
  };
}
