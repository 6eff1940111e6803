// Which certificates the client trusts for an https gateway, and what it tells the user when the
// gateway's certificate is refused. Verification is never turned off: there is no flag for it.
import { readFile } from 'node:fs/promises';
import { ClientError } from './errors.js';

/** The CA file's certificates, or undefined for Node's own root store (plus NODE_EXTRA_CA_CERTS). */
export async function loadCa(caFile: string | null): Promise<Buffer | undefined> {
  if (caFile === null) return undefined;
  try {
    const pem = await readFile(caFile);
    if (!pem.includes('-----BEGIN CERTIFICATE-----')) throw new ClientError('usage', `--ca-file ${caFile}: holds no PEM certificate`);
    return pem;
  } catch (error) {
    if (error instanceof ClientError) throw error;
    throw new ClientError('usage', `--ca-file ${caFile}: ${(error as Error).message}`);
  }
}

/** OpenSSL's verification failures, as Node reports them in `error.code`. */
const CERTIFICATE_PROBLEMS: Record<string, string> = {
  DEPTH_ZERO_SELF_SIGNED_CERT: 'it is self-signed',
  SELF_SIGNED_CERT_IN_CHAIN: 'its chain ends in a self-signed certificate that is not trusted',
  UNABLE_TO_VERIFY_LEAF_SIGNATURE: 'no trusted certificate signed it',
  UNABLE_TO_GET_ISSUER_CERT_LOCALLY: 'its issuer is not trusted',
  UNABLE_TO_GET_ISSUER_CERT: 'its issuer is not trusted',
  CERT_HAS_EXPIRED: 'it has expired',
  CERT_NOT_YET_VALID: 'it is not valid yet',
  CERT_REVOKED: 'it was revoked',
  ERR_TLS_CERT_ALTNAME_INVALID: 'it was issued for another name',
};

/** A network error as the user should read it; a refused certificate says how to trust it. */
export function describeConnectError(error: NodeJS.ErrnoException, url: string): ClientError {
  const problem = error.code ? CERTIFICATE_PROBLEMS[error.code] : undefined;
  if (problem) {
    return new ClientError(
      'unreachable',
      `refusing ${url}: its TLS certificate is not trusted (${problem}). If this is the right gateway, give the CA that signed its certificate with --ca-file FILE`,
    );
  }
  switch (error.code) {
    case 'ECONNREFUSED':
      return new ClientError('unreachable', `${url} refused the connection: is the gateway running, and is the URL right?`);
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return new ClientError('unreachable', `${url}: the host name does not resolve`);
    case 'EPROTO':
    case 'ERR_SSL_WRONG_VERSION_NUMBER':
      return new ClientError('unreachable', `${url}: the TLS handshake failed (is it an http:// gateway?)`);
    default:
      return new ClientError('unreachable', `${url} cannot be reached: ${error.message}`);
  }
}
