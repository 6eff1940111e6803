// The operator's Kubernetes transport: JSON requests and watch streams, authenticated by
// @kubernetes/client-node's KubeConfig (kubeconfig files, in-cluster tokens that rotate, client
// certificates, the cluster's CA — TLS is always verified). Objects stay the plain JSON the server
// sent, in informers and in requests alike: the generated API classes would turn some fields into
// Dates on list but not on watch, and every patch content type is said here explicitly.
import { Agent, request as httpsRequest, type RequestOptions } from 'node:https';
import { request as httpRequest } from 'node:http';
import type { IncomingMessage } from 'node:http';
import { createInterface } from 'node:readline';
import type { KubeConfig } from '@kubernetes/client-node';

/** An answer of the API server other than 2xx, with its Status `reason` (NotFound, Conflict…). */
export class KubeApiError extends Error {
  override readonly name = 'KubeApiError';
  constructor(
    readonly status: number,
    readonly reason: string,
    message: string,
    readonly method: string,
    readonly path: string,
  ) {
    super(`${method} ${path}: ${status} ${reason}: ${message}`);
  }
}

export const isNotFound = (error: unknown): boolean => error instanceof KubeApiError && error.status === 404;
export const isAlreadyExists = (error: unknown): boolean => error instanceof KubeApiError && error.status === 409 && error.reason === 'AlreadyExists';
export const isConflict = (error: unknown): boolean => error instanceof KubeApiError && error.status === 409 && error.reason === 'Conflict';

export type PatchType = 'merge' | 'json';
const PATCH_CONTENT_TYPES: Record<PatchType, string> = {
  merge: 'application/merge-patch+json',
  json: 'application/json-patch+json',
};

export interface WatchEvent<T> {
  readonly type: 'ADDED' | 'MODIFIED' | 'DELETED' | 'BOOKMARK' | 'ERROR';
  readonly object: T;
}

export interface WatchHandle {
  /** Resolves when the stream ended, by the server or by `abort`; rejects on a transport error or a non-200 answer. */
  readonly done: Promise<void>;
  abort(): void;
}

export type Query = Readonly<Record<string, string | number | boolean | undefined>>;

export class KubeClient {
  /** One keep-alive agent: every request and watch reuses the TLS connections. */
  private readonly agent = new Agent({ keepAlive: true, maxSockets: 64 });
  private readonly server: URL;

  constructor(
    private readonly config: KubeConfig,
    private readonly userAgent = 'cloudterm-operator',
  ) {
    const cluster = config.getCurrentCluster();
    if (!cluster) throw new Error('the kubeconfig has no current cluster');
    this.server = new URL(cluster.server);
  }

  get<T>(path: string, query?: Query): Promise<T> {
    return this.json<T>('GET', path, query);
  }

  create<T>(path: string, body: unknown): Promise<T> {
    return this.json<T>('POST', path, undefined, body);
  }

  replace<T>(path: string, body: unknown): Promise<T> {
    return this.json<T>('PUT', path, undefined, body);
  }

  patch<T>(path: string, body: unknown, type: PatchType = 'merge'): Promise<T> {
    return this.json<T>('PATCH', path, undefined, body, PATCH_CONTENT_TYPES[type]);
  }

  /** Deletes; a missing object is not an error (what should be gone is gone). */
  async delete(path: string, options: { propagationPolicy?: 'Background' | 'Foreground'; uid?: string } = {}): Promise<void> {
    const body = {
      kind: 'DeleteOptions',
      apiVersion: 'v1',
      propagationPolicy: options.propagationPolicy ?? 'Background',
      ...(options.uid ? { preconditions: { uid: options.uid } } : {}),
    };
    await this.json('DELETE', path, undefined, body).catch((error: unknown) => {
      if (!isNotFound(error)) throw error;
    });
  }

  /** Streams watch events; `onEvent` is called in arrival order. */
  async watch<T>(path: string, query: Query, onEvent: (event: WatchEvent<T>) => void): Promise<WatchHandle> {
    const res = await this.send('GET', path, { ...query, watch: 'true' });
    if (res.statusCode !== 200) {
      const text = await readBody(res);
      throw toApiError(res.statusCode ?? 0, text, 'GET', path);
    }
    const lines = createInterface({ input: res, crlfDelay: Infinity });
    const done = new Promise<void>((resolve, reject) => {
      // readline re-emits its input's errors (a cut connection): both must be listened to.
      res.on('error', reject);
      lines.on('error', reject);
      lines.on('close', () => resolve());
      // Destroyed by abort(): readline sees no 'end', the response still closes.
      res.on('close', () => resolve());
    });
    lines.on('line', (line) => {
      if (line.trim() === '') return;
      onEvent(JSON.parse(line) as WatchEvent<T>);
    });
    return { done, abort: () => res.destroy() };
  }

  close(): void {
    this.agent.destroy();
  }

  private async json<T>(method: string, path: string, query?: Query, body?: unknown, contentType = 'application/json'): Promise<T> {
    const res = await this.send(method, path, query, body === undefined ? undefined : JSON.stringify(body), contentType);
    const text = await readBody(res);
    const status = res.statusCode ?? 0;
    if (status < 200 || status > 299) throw toApiError(status, text, method, path);
    return (text ? JSON.parse(text) : {}) as T;
  }

  private async send(method: string, path: string, query?: Query, body?: string, contentType?: string): Promise<IncomingMessage> {
    const auth: RequestOptions = {};
    // Re-applied on each request: a projected or exec token may have rotated.
    await this.config.applyToHTTPSOptions(auth);
    const url = new URL(this.server.pathname.replace(/\/$/, '') + path, this.server);
    for (const [name, value] of Object.entries(query ?? {})) if (value !== undefined) url.searchParams.set(name, String(value));
    const headers: Record<string, string> = {
      ...(auth.headers as Record<string, string> | undefined),
      accept: 'application/json',
      'user-agent': this.userAgent,
    };
    if (auth.auth) headers.authorization = `Basic ${Buffer.from(auth.auth).toString('base64')}`;
    if (body !== undefined) {
      headers['content-type'] = contentType ?? 'application/json';
      headers['content-length'] = String(Buffer.byteLength(body));
    }
    const secure = url.protocol === 'https:';
    const options: RequestOptions = {
      method,
      headers,
      ...(secure
        ? { agent: this.agent, ca: auth.ca, cert: auth.cert, key: auth.key, servername: auth.servername, rejectUnauthorized: auth.rejectUnauthorized ?? true }
        : {}),
    };
    return new Promise((resolve, reject) => {
      const req = (secure ? httpsRequest : httpRequest)(url, options, resolve);
      req.on('error', reject);
      req.end(body);
    });
  }
}

function readBody(res: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    res.on('data', (chunk: Buffer) => chunks.push(chunk));
    res.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    res.on('error', reject);
  });
}

function toApiError(status: number, text: string, method: string, path: string): KubeApiError {
  try {
    const parsed = JSON.parse(text) as { reason?: string; message?: string };
    return new KubeApiError(status, parsed.reason ?? 'Unknown', parsed.message ?? text, method, path);
  } catch {
    return new KubeApiError(status, 'Unknown', text.slice(0, 200), method, path);
  }
}
