// Readiness probes as the kubelet runs them: httpGet (2xx/3xx is success) and tcpSocket against
// the pod's address; exec probes need a container runtime and are reported as failing.
import { request } from 'node:http';
import { connect } from 'node:net';
import type { V1Container, V1Probe } from '@kubernetes/client-node';

function resolvePort(container: V1Container, port: number | string | undefined): number | undefined {
  if (typeof port === 'number') return port;
  if (port === undefined) return undefined;
  if (/^\d+$/.test(port)) return Number(port);
  return container.ports?.find((candidate) => candidate.name === port)?.containerPort;
}

/** One probe run: true when it succeeded. */
export function runProbe(probe: V1Probe, container: V1Container, podIp: string): Promise<boolean> {
  const timeoutMs = (probe.timeoutSeconds ?? 1) * 1000;
  if (probe.httpGet) {
    const port = resolvePort(container, probe.httpGet.port as number | string);
    if (port === undefined) return Promise.resolve(false);
    const headers = Object.fromEntries((probe.httpGet.httpHeaders ?? []).map((header) => [header.name, header.value]));
    return new Promise((resolve) => {
      const req = request(
        { host: probe.httpGet!.host || podIp, port, path: probe.httpGet!.path || '/', method: 'GET', headers: { 'user-agent': 'kube-probe/1.21', ...headers }, timeout: timeoutMs },
        (res) => {
          res.resume();
          resolve((res.statusCode ?? 0) >= 200 && (res.statusCode ?? 0) < 400);
        },
      );
      req.on('timeout', () => req.destroy());
      req.on('error', () => resolve(false));
      req.end();
    });
  }
  if (probe.tcpSocket) {
    const port = resolvePort(container, probe.tcpSocket.port as number | string);
    if (port === undefined) return Promise.resolve(false);
    return new Promise((resolve) => {
      const socket = connect({ host: probe.tcpSocket!.host || podIp, port, timeout: timeoutMs });
      socket.once('connect', () => {
        socket.destroy();
        resolve(true);
      });
      socket.once('timeout', () => socket.destroy());
      socket.once('error', () => resolve(false));
      socket.once('close', () => resolve(false));
    });
  }
  return Promise.resolve(false);
}
