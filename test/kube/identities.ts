// Identities for RBAC tests, each with a kubeconfig file and a client configuration: a user (a
// client certificate CN=user, O=each group, signed by the server's client CA, valid one day) and a
// ServiceAccount (a short-lived token from the TokenRequest API). Everything goes over HTTPS
// verified against the server's CA.
import { execFile } from 'node:child_process';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { CoreV1Api, KubeConfig } from '@kubernetes/client-node';
import type { ControlPlane } from './control-plane.js';

const run = promisify(execFile);

export interface Identity {
  /** The user name the API server sees (`system:serviceaccount:<ns>:<name>` for a ServiceAccount). */
  readonly user: string;
  readonly kubeconfigPath: string;
  readonly kubeConfig: KubeConfig;
  /** The bearer token (ServiceAccounts only). */
  readonly token?: string;
}

/** Names that go into a certificate subject as they are: no separators, no escapes. */
const SUBJECT_PART = /^[A-Za-z0-9@._:-]{1,64}$/;

async function identitiesDir(plane: ControlPlane): Promise<string> {
  const dir = join(plane.dir, 'identities');
  await mkdir(dir, { recursive: true, mode: 0o700 });
  return dir;
}

async function writeKubeconfig(plane: ControlPlane, user: string, credentials: Record<string, string>): Promise<{ path: string; config: KubeConfig }> {
  const document = {
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: 'rig', cluster: { server: plane.server, 'certificate-authority-data': Buffer.from(plane.caPem).toString('base64') } }],
    users: [{ name: user, user: credentials }],
    contexts: [{ name: user, context: { cluster: 'rig', user } }],
    'current-context': user,
  };
  const text = JSON.stringify(document, null, 2);
  const path = join(await identitiesDir(plane), `${user.replace(/[^A-Za-z0-9.-]/g, '_')}-${randomBytes(4).toString('hex')}.kubeconfig`);
  await writeFile(path, text, { mode: 0o600 });
  const config = new KubeConfig();
  config.loadFromString(text);
  return { path, config };
}

/** A user authenticated by a client certificate: CN = user, one O per group. */
export async function userIdentity(plane: ControlPlane, user: string, groups: readonly string[] = []): Promise<Identity> {
  for (const part of [user, ...groups]) {
    if (!SUBJECT_PART.test(part)) throw new TypeError(`user and group names must match ${SUBJECT_PART}: ${JSON.stringify(part)}`);
  }
  const work = await mkdtemp(join(await identitiesDir(plane), 'csr-'));
  try {
    const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
    const keyPem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    await writeFile(join(work, 'key.pem'), keyPem, { mode: 0o600 });
    const subject = `${groups.map((group) => `/O=${group}`).join('')}/CN=${user}`;
    await run('openssl', ['req', '-new', '-key', join(work, 'key.pem'), '-subj', subject, '-out', join(work, 'csr.pem')]);
    await run('openssl', [
      'x509', '-req', '-in', join(work, 'csr.pem'),
      '-CA', plane.clientCaCertPath, '-CAkey', plane.clientCaKeyPath,
      '-set_serial', `0x${randomBytes(16).toString('hex')}`, '-days', '1', '-sha256',
      '-out', join(work, 'cert.pem'),
    ]);
    const certPem = await readFile(join(work, 'cert.pem'), 'utf8');
    const { path, config } = await writeKubeconfig(plane, user, {
      'client-certificate-data': Buffer.from(certPem).toString('base64'),
      'client-key-data': Buffer.from(keyPem).toString('base64'),
    });
    return { user, kubeconfigPath: path, kubeConfig: config };
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') throw new Error('minting client certificates needs openssl: install it (apt-get install openssl)');
    throw error;
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

export interface TokenOptions {
  /** Default: the API server's own audience. */
  readonly audiences?: readonly string[];
  /** Default 600 (the API server's minimum). */
  readonly expirationSeconds?: number;
}

/** A ServiceAccount that exists in `namespace`, through a TokenRequest token. */
export async function serviceAccountIdentity(plane: ControlPlane, namespace: string, name: string, options: TokenOptions = {}): Promise<Identity> {
  const core = plane.kubeConfig.makeApiClient(CoreV1Api);
  const answer = await core.createNamespacedServiceAccountToken({
    name,
    namespace,
    body: {
      spec: {
        audiences: options.audiences ? [...options.audiences] : [],
        expirationSeconds: options.expirationSeconds ?? 600,
      },
    },
  });
  const token = answer.status?.token;
  if (!token) throw new Error(`TokenRequest for ${namespace}/${name} returned no token`);
  const user = `system:serviceaccount:${namespace}:${name}`;
  const { path, config } = await writeKubeconfig(plane, user, { token });
  return { user, kubeconfigPath: path, kubeConfig: config, token };
}
