// The CloudTerm agent as its own process (the built JS, so tsx is not measured), and a lean
// client for it: it decodes only the frame type and hands output payloads on without copying.
import { join } from 'node:path';
import { writeFile } from 'node:fs/promises';
import { WebSocket, type RawData } from 'ws';
import type { CryptoKey } from 'jose';
import { signAttachToken } from '../../core/src/keys/attach-token.js';
import {
  AgentType,
  OUTPUT_HEADER_BYTES,
  decodeAgentMessage,
  encodeAttach,
  encodeInput,
} from '../../core/src/protocol/messages.js';
import { freePort, startProcess, waitForPort } from './processes.js';
import { terminateWebSocket, withTimeout, type Chunk, type Target, type Terminal } from './terminal.js';

const SESSION_ID = 'bench';
/** Agents started so far: each gets a socket path of its own. */
let started = 0;

export interface AgentTargetOptions {
  readonly repoRoot: string;
  readonly workDir: string;
  readonly env: NodeJS.ProcessEnv;
  readonly privateKey: CryptoKey;
  readonly publicKeyPem: string;
  /** The agent's built entry point, relative to the repository (another build, to compare a change). */
  readonly entry: string;
  /** Extra flags for node, e.g. --cpu-prof. */
  readonly nodeFlags?: readonly string[];
  /** Where the agent listens: loopback TCP (as in a pod) or a unix socket (as in local mode). */
  readonly transport: AgentTransport;
}

export type AgentTransport = 'tcp' | 'unix';

async function connect(url: string, token: string): Promise<Terminal> {
  const socket = new WebSocket(url, { headers: { authorization: `Bearer ${token}` }, perMessageDeflate: false });
  const terminal: Terminal = {
    type: (text) => socket.send(encodeInput(Buffer.from(text, 'latin1'))),
    sink: () => {},
    close: () => terminateWebSocket(socket),
  };
  const attached = new Promise<void>((resolve, reject) => {
    socket.on('message', (data: RawData) => {
      const frame = data as Buffer;
      const type = frame[0];
      if (type === AgentType.Output) {
        terminal.sink(frame.subarray(OUTPUT_HEADER_BYTES) as Chunk);
      } else if (type === AgentType.Hello) {
        const hello = decodeAgentMessage(frame);
        if (hello?.type !== 'hello') return reject(new Error('bad hello'));
        // From the current end: the benchmark never wants what came before it attached.
        socket.send(encodeAttach(hello.offset));
        resolve();
      } else if (type === AgentType.Gap) {
        reject(new Error('the agent reported lost output (gap): the client fell out of the ring'));
      }
    });
    socket.once('error', reject);
    socket.once('unexpected-response', (_req, res) => reject(new Error(`agent refused the upgrade: HTTP ${res.statusCode}`)));
  });
  await withTimeout(attached, 10_000, 'agent hello');
  return terminal;
}

export async function startAgent(options: AgentTargetOptions): Promise<Target> {
  const address = options.transport === 'unix' ? join(options.workDir, `agent-${++started}.sock`) : await freePort();
  const publicKeyFile = join(options.workDir, 'attach-public.pem');
  await writeFile(publicKeyFile, options.publicKeyPem);
  const server = startProcess(
    process.execPath,
    [
      ...(options.nodeFlags ?? []),
      join(options.repoRoot, options.entry),
      'agent',
      '--listen', typeof address === 'number' ? `127.0.0.1:${address}` : `unix:${address}`,
      '--session-id', SESSION_ID,
      '--public-key-file', publicKeyFile,
      '--cwd', options.workDir,
      '--', '/bin/sh',
    ],
    { cwd: options.workDir, env: options.env },
  );
  await waitForPort(address, 15_000, server);
  // ws reaches a unix socket through a ws+unix: URL: the socket path, a colon, the request path.
  const url = typeof address === 'number' ? `ws://127.0.0.1:${address}/attach` : `ws+unix://${address}:/attach`;
  return {
    name: 'cloudterm agent',
    pid: server.pid,
    open: async (role) => {
      // Tokens are single-use: one per connection.
      const token = await signAttachToken(options.privateKey, { sessionId: SESSION_ID, user: 'bench', role }, 60);
      return connect(url, token);
    },
    stop: () => server.stop(),
  };
}
