// HTTPS served by the gateway itself (--tls-cert, --tls-key): for one machine or a LAN, where no
// ingress or proxy ends TLS in front of it. The files are read and checked at start, so that a
// wrong path, a file that is not PEM, a key that is not the certificate's or an expired
// certificate stops the start saying which, instead of failing every browser's handshake.
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { createSecureContext } from 'node:tls';
import { ConfigError, readNamedFile } from '../../../core/src/config/options.js';
import type { TlsFiles } from '../config/gateway-config.js';

/** What https.createServer takes: the certificate chain and its key, as PEM. */
export interface TlsMaterial {
  readonly cert: Buffer;
  readonly key: Buffer;
}

/** The problem with a certificate chain, or null; `now` is when it must be valid. */
function certificateProblem(cert: Buffer, path: string, now: Date): string | null {
  let leaf: X509Certificate;
  try {
    // The first certificate of the chain is the server's; the rest are its issuers.
    leaf = new X509Certificate(cert);
  } catch {
    return `--tls-cert ${path}: no PEM certificate in it`;
  }
  if (new Date(leaf.validTo) < now) return `--tls-cert ${path}: the certificate expired on ${new Date(leaf.validTo).toISOString()}`;
  if (new Date(leaf.validFrom) > now) return `--tls-cert ${path}: the certificate is not valid before ${new Date(leaf.validFrom).toISOString()}`;
  return null;
}

export async function loadTlsMaterial(files: TlsFiles, now = new Date()): Promise<TlsMaterial> {
  const problems: string[] = [];
  const [cert, key] = await Promise.all([readNamedFile('tls-cert', files.certFile, problems), readNamedFile('tls-key', files.keyFile, problems)]);
  if (cert) {
    const problem = certificateProblem(cert, files.certFile, now);
    if (problem) problems.push(problem);
  }
  if (key) {
    try {
      createPrivateKey(key);
    } catch {
      problems.push(`--tls-key ${files.keyFile}: no PEM private key in it (an encrypted key is not supported)`);
    }
  }
  if (problems.length > 0 || !cert || !key) throw new ConfigError(problems);
  try {
    createSecureContext({ cert, key });
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new ConfigError([
      code === 'ERR_OSSL_X509_KEY_VALUES_MISMATCH'
        ? `--tls-key ${files.keyFile} is not the private key of the certificate in --tls-cert ${files.certFile}`
        : `--tls-cert/--tls-key: ${(error as Error).message}`,
    ]);
  }
  return { cert, key };
}
