// @kubernetes/client-node 1.4 makes a new https.Agent for every request, so every request pays a
// TCP connect and a TLS handshake (measured here: 33 creates/s one after another through the
// client, 400/s over one kept-alive connection). The kubelet writes a status per pod change, so
// it reuses one keep-alive agent per set of TLS options instead. The options (CA, client
// certificate) are the client's own; nothing about verification changes.
// No maxSockets: with a cap, requests queue for a socket, and one handed a socket the moment the
// previous (chunked) response ends makes node-fetch 2.7 report a false "Premature close" for that
// response (seen at 50 requests in flight with a cap of 64; none without a cap).
import { Agent } from 'node:https';
import type { KubeConfig } from '@kubernetes/client-node';

type AgentOptions = { ca?: unknown; cert?: unknown; key?: unknown; servername?: string; rejectUnauthorized?: boolean; pfx?: unknown; passphrase?: string };
type Internals = { createAgent(cluster: unknown, options: AgentOptions): unknown };

/** Makes `config`'s API clients and watches share kept-alive connections (returns `config`). */
export function withKeepAlive(config: KubeConfig): KubeConfig {
  const internals = config as unknown as Internals;
  const original = internals.createAgent.bind(config);
  const agents = new Map<string, Agent>();
  internals.createAgent = (cluster: unknown, options: AgentOptions) => {
    const proxied = (cluster as { proxyUrl?: string } | null)?.proxyUrl;
    if (proxied) return original(cluster, options);
    const key = JSON.stringify([options.ca, options.cert, options.key, options.pfx, options.servername, options.rejectUnauthorized].map((part) => (Buffer.isBuffer(part) ? part.toString('base64') : part)));
    let agent = agents.get(key);
    if (!agent) {
      agent = new Agent({ ...(options as object), keepAlive: true });
      agents.set(key, agent);
    }
    return agent;
  };
  return config;
}
