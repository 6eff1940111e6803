// A container's environment as the kubelet computes it: the service variables of the API server,
// envFrom, then env (later wins), with downward-API fields, Secret and ConfigMap keys resolved and
// `$(VAR)` references expanded (`$$(VAR)` escapes). Also the expansion of command and args.
import type { V1Container, V1ObjectFieldSelector, V1Pod } from '@kubernetes/client-node';

/** Reads the data of a Secret or ConfigMap in the pod's namespace; undefined when it does not exist. */
export interface ObjectReader {
  secret(namespace: string, name: string): Promise<Record<string, Buffer> | undefined>;
  configMap(namespace: string, name: string): Promise<Record<string, Buffer> | undefined>;
}

export class ConfigError extends Error {
  override readonly name = 'CreateContainerConfigError';
}

const DEFAULT_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/** `metadata.name`, `status.podIP`, `metadata.labels['app']`, … of a pod. */
export function podField(pod: V1Pod, podIp: string, selector: V1ObjectFieldSelector): string {
  const path = selector.fieldPath;
  const mapKey = /^metadata\.(labels|annotations)\['(.+)'\]$/.exec(path);
  if (mapKey) return (mapKey[1] === 'labels' ? pod.metadata?.labels : pod.metadata?.annotations)?.[mapKey[2]!] ?? '';
  switch (path) {
    case 'metadata.name':
      return pod.metadata?.name ?? '';
    case 'metadata.namespace':
      return pod.metadata?.namespace ?? '';
    case 'metadata.uid':
      return pod.metadata?.uid ?? '';
    case 'spec.nodeName':
      return pod.spec?.nodeName ?? '';
    case 'spec.serviceAccountName':
      return pod.spec?.serviceAccountName ?? '';
    case 'status.podIP':
      return podIp;
    case 'status.hostIP':
      return '127.0.0.1';
    case 'metadata.labels':
    case 'metadata.annotations': {
      const map = (path === 'metadata.labels' ? pod.metadata?.labels : pod.metadata?.annotations) ?? {};
      return Object.entries(map).map(([key, value]) => `${key}=${JSON.stringify(value)}`).sort().join('\n');
    }
    default:
      throw new ConfigError(`unsupported downward API field ${path}`);
  }
}

/** Expands `$(NAME)` from `vars`; unknown references stay as they are, `$$` escapes. */
export function expand(text: string, vars: Readonly<Record<string, string>>): string {
  return text.replace(/\$\$|\$\(([A-Za-z_][A-Za-z0-9_.-]*)\)/g, (match, name: string | undefined) => {
    if (match === '$$') return '$';
    return name !== undefined && name in vars ? vars[name]! : match;
  });
}

export interface ApiServerAddress {
  readonly host: string;
  readonly port: number;
}

export async function containerEnvironment(
  pod: V1Pod,
  container: V1Container,
  podIp: string,
  apiServer: ApiServerAddress,
  reader: ObjectReader,
): Promise<Record<string, string>> {
  const namespace = pod.metadata?.namespace ?? 'default';
  const env: Record<string, string> = {
    PATH: DEFAULT_PATH,
    HOSTNAME: pod.metadata?.name ?? '',
    KUBERNETES_SERVICE_HOST: apiServer.host,
    KUBERNETES_SERVICE_PORT: String(apiServer.port),
    KUBERNETES_SERVICE_PORT_HTTPS: String(apiServer.port),
    KUBERNETES_PORT: `tcp://${apiServer.host}:${apiServer.port}`,
  };
  const required = async <T>(what: string, value: Promise<T | undefined>, optional: boolean | undefined): Promise<T | undefined> => {
    const found = await value;
    if (found === undefined && !optional) throw new ConfigError(`${what} not found`);
    return found;
  };
  for (const source of container.envFrom ?? []) {
    const data = source.secretRef
      ? await required(`secret "${source.secretRef.name}"`, reader.secret(namespace, source.secretRef.name ?? ''), source.secretRef.optional)
      : source.configMapRef
        ? await required(`configmap "${source.configMapRef.name}"`, reader.configMap(namespace, source.configMapRef.name ?? ''), source.configMapRef.optional)
        : undefined;
    for (const [key, value] of Object.entries(data ?? {})) env[`${source.prefix ?? ''}${key}`] = value.toString('utf8');
  }
  for (const variable of container.env ?? []) {
    const from = variable.valueFrom;
    if (!from) {
      env[variable.name] = expand(variable.value ?? '', env);
    } else if (from.fieldRef) {
      env[variable.name] = podField(pod, podIp, from.fieldRef);
    } else if (from.secretKeyRef || from.configMapKeyRef) {
      const ref = (from.secretKeyRef ?? from.configMapKeyRef)!;
      const kind = from.secretKeyRef ? 'secret' : 'configmap';
      const data = await required(`${kind} "${ref.name}"`, from.secretKeyRef ? reader.secret(namespace, ref.name ?? '') : reader.configMap(namespace, ref.name ?? ''), ref.optional);
      const value = data?.[ref.key];
      if (value === undefined && !ref.optional) throw new ConfigError(`couldn't find key ${ref.key} in ${kind} ${namespace}/${ref.name}`);
      if (value !== undefined) env[variable.name] = value.toString('utf8');
    } else if (from.resourceFieldRef) {
      env[variable.name] = resourceField(container, from.resourceFieldRef.resource, from.resourceFieldRef.divisor);
    }
  }
  return env;
}

/** limits/requests in the divisor's unit (cpu rounded up to whole cores by default, as the kubelet does). */
function resourceField(container: V1Container, resource: string, divisor: unknown): string {
  const [kind, name] = resource.split('.') as ['limits' | 'requests', string];
  const quantity = container.resources?.[kind]?.[name];
  if (quantity === undefined) return name === 'cpu' ? '1' : '0';
  const value = parseQuantity(String(quantity));
  const unit = divisor === undefined ? 1 : parseQuantity(String(divisor));
  return String(Math.ceil(value / unit));
}

const SUFFIXES: Record<string, number> = { m: 1e-3, k: 1e3, M: 1e6, G: 1e9, T: 1e12, Ki: 1024, Mi: 1024 ** 2, Gi: 1024 ** 3, Ti: 1024 ** 4 };

function parseQuantity(text: string): number {
  const match = /^([0-9.]+)([a-zA-Z]*)$/.exec(text.trim());
  if (!match) throw new ConfigError(`invalid quantity ${text}`);
  return Number(match[1]) * (match[2] ? (SUFFIXES[match[2]] ?? NaN) : 1);
}
