// A kubeconfig that reaches the same API server at another address (a proxy a test cuts), with
// the same credentials and CA: the server's certificate is valid for 127.0.0.1 on any port.
import { writeFile } from 'node:fs/promises';
import { KubeConfig } from '@kubernetes/client-node';

/** Writes `target`: `source` (YAML or JSON) with every cluster's server set to `server`. */
export async function kubeconfigVia(source: string, server: string, target: string): Promise<string> {
  const config = new KubeConfig();
  config.loadFromFile(source);
  const document = JSON.parse(config.exportConfig()) as { clusters: Array<{ cluster: { server: string } }> };
  for (const entry of document.clusters) entry.cluster.server = server;
  await writeFile(target, JSON.stringify(document), { mode: 0o600 });
  return target;
}
