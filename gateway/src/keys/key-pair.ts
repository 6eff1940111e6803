// Signing keys for the tokens the gateway issues (user tokens and attach tokens). Keys are PEM
// files so that every gateway replica can share one key pair (a Kubernetes Secret) and the agents
// can be given only the public half.
import { readFile, writeFile, mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import { exportPKCS8, exportSPKI, generateKeyPair, importPKCS8, importSPKI, type CryptoKey } from 'jose';

/** ES256: short tokens, fast to verify, supported by every JOSE library and WebCrypto. */
export const SIGNING_ALG = 'ES256';

export interface SigningKeyPair {
  readonly privateKey: CryptoKey;
  readonly publicKey: CryptoKey;
  readonly publicKeyPem: string;
}

export async function importPublicKey(pem: string): Promise<CryptoKey> {
  try {
    return await importSPKI(pem, SIGNING_ALG);
  } catch (error) {
    throw new Error(`not an ${SIGNING_ALG} public key in PEM (SPKI) form: ${(error as Error).message}`);
  }
}

export async function importKeyPair(privatePem: string, publicPem: string): Promise<SigningKeyPair> {
  let privateKey: CryptoKey;
  try {
    privateKey = await importPKCS8(privatePem, SIGNING_ALG);
  } catch (error) {
    throw new Error(`not an ${SIGNING_ALG} private key in PEM (PKCS#8) form: ${(error as Error).message}`);
  }
  return { privateKey, publicKey: await importPublicKey(publicPem), publicKeyPem: publicPem };
}

export async function generateSigningKeyPair(): Promise<SigningKeyPair & { privateKeyPem: string }> {
  const { privateKey, publicKey } = await generateKeyPair(SIGNING_ALG, { extractable: true });
  return {
    privateKey,
    publicKey,
    privateKeyPem: await exportPKCS8(privateKey),
    publicKeyPem: await exportSPKI(publicKey),
  };
}

/**
 * Loads the key pair at `privatePath`/`publicPath`, or makes and stores one (private key mode
 * 0600) when neither exists. Local mode uses this so that tokens survive a gateway restart.
 */
export async function loadOrCreateKeyPair(privatePath: string, publicPath: string): Promise<SigningKeyPair> {
  const existing = await Promise.all([readFile(privatePath, 'utf8'), readFile(publicPath, 'utf8')]).catch(
    (error: NodeJS.ErrnoException) => {
      if (error.code === 'ENOENT') return null;
      throw error;
    },
  );
  if (existing) return importKeyPair(existing[0], existing[1]);
  const pair = await generateSigningKeyPair();
  await mkdir(dirname(privatePath), { recursive: true, mode: 0o700 });
  await writeFile(privatePath, pair.privateKeyPem, { mode: 0o600, flag: 'wx' });
  await writeFile(publicPath, pair.publicKeyPem, { mode: 0o644, flag: 'wx' });
  return pair;
}
