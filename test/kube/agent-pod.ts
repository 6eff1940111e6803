// A CloudTerm agent as a pod, the way a terminal pod runs it: the image's `cloudterm agent` on
// its pod IP, the gateway's public key from a Secret volume, a readiness probe on /status and a
// restricted security context. Tests create it and attach with an attach token.
import type { V1Pod, V1Volume } from '@kubernetes/client-node';

export const AGENT_PORT = 7681;
export const KEY_MOUNT = '/etc/cloudterm/attach';

export interface AgentPodOptions {
  readonly name: string;
  readonly sessionId: string;
  /** A Secret holding `public.pem`, the key attach tokens are checked against. */
  readonly keySecret: string;
  /** Pin to a node (a private kubelet's, whose taint keeps the scheduler away). */
  readonly nodeName?: string;
  readonly command?: readonly string[];
  readonly restartPolicy?: 'Always' | 'OnFailure' | 'Never';
  readonly terminationGracePeriodSeconds?: number;
  readonly extraVolumes?: readonly V1Volume[];
}

export function agentPod(options: AgentPodOptions): V1Pod {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: options.name, labels: { app: 'cloudterm-agent' } },
    spec: {
      ...(options.nodeName ? { nodeName: options.nodeName } : {}),
      restartPolicy: options.restartPolicy ?? 'Never',
      terminationGracePeriodSeconds: options.terminationGracePeriodSeconds ?? 10,
      automountServiceAccountToken: false,
      securityContext: { runAsUser: 1000, runAsGroup: 1000, fsGroup: 2000, runAsNonRoot: true },
      containers: [
        {
          name: 'agent',
          image: 'ghcr.io/cloudterm/cloudterm:0.1.0',
          args: [
            'agent',
            '--session-id', options.sessionId,
            '--listen', `$(POD_IP):${AGENT_PORT}`,
            '--public-key-file', `${KEY_MOUNT}/public.pem`,
            '--resume-window', '0',
            '--',
            ...(options.command ?? ['/bin/sh']),
          ],
          env: [
            { name: 'POD_IP', valueFrom: { fieldRef: { fieldPath: 'status.podIP' } } },
            { name: 'POD_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
            { name: 'PS1', value: '$ ' },
          ],
          ports: [{ name: 'agent', containerPort: AGENT_PORT }],
          readinessProbe: { httpGet: { path: '/status', port: 'agent' }, periodSeconds: 1 },
          securityContext: { allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] } },
          volumeMounts: [{ name: 'attach-key', mountPath: KEY_MOUNT, readOnly: true }],
        },
      ],
      volumes: [{ name: 'attach-key', secret: { secretName: options.keySecret, defaultMode: 0o440 } }, ...(options.extraVolumes ?? [])],
    },
  };
}
