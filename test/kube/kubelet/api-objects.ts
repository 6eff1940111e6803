// What pods read from the API: Secret and ConfigMap data (as bytes), and ServiceAccount tokens
// bound to a pod (TokenRequest with a boundObjectRef, so the token dies with the pod).
import { ApiException, type CoreV1Api, type V1Pod } from '@kubernetes/client-node';
import type { ObjectReader } from './pod-environment.js';
import type { TokenMinter } from './volumes.js';

async function orUndefined<T>(read: Promise<T>): Promise<T | undefined> {
  try {
    return await read;
  } catch (error) {
    if (error instanceof ApiException && error.code === 404) return undefined;
    throw error;
  }
}

export function objectReader(core: CoreV1Api): ObjectReader {
  return {
    async secret(namespace, name) {
      const secret = await orUndefined(core.readNamespacedSecret({ name, namespace }));
      if (!secret) return undefined;
      return Object.fromEntries(Object.entries(secret.data ?? {}).map(([key, value]) => [key, Buffer.from(value, 'base64')]));
    },
    async configMap(namespace, name) {
      const map = await orUndefined(core.readNamespacedConfigMap({ name, namespace }));
      if (!map) return undefined;
      return {
        ...Object.fromEntries(Object.entries(map.data ?? {}).map(([key, value]) => [key, Buffer.from(value, 'utf8')])),
        ...Object.fromEntries(Object.entries(map.binaryData ?? {}).map(([key, value]) => [key, Buffer.from(value, 'base64')])),
      };
    },
  };
}

export function tokenMinter(core: CoreV1Api): TokenMinter {
  return {
    async podToken(pod: V1Pod, audience: string | undefined, expirationSeconds: number) {
      const answer = await core.createNamespacedServiceAccountToken({
        name: pod.spec?.serviceAccountName ?? 'default',
        namespace: pod.metadata?.namespace ?? 'default',
        body: {
          spec: {
            audiences: audience ? [audience] : [],
            expirationSeconds,
            boundObjectRef: { apiVersion: 'v1', kind: 'Pod', name: pod.metadata?.name, uid: pod.metadata?.uid },
          },
        },
      });
      const token = answer.status?.token;
      if (!token) throw new Error(`TokenRequest for ${pod.metadata?.namespace}/${pod.spec?.serviceAccountName} returned no token`);
      const expires = answer.status?.expirationTimestamp ? new Date(answer.status.expirationTimestamp).getTime() : Date.now() + expirationSeconds * 1000;
      return { token, expiresAt: expires };
    },
  };
}
