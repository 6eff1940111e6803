// Signing keys for the tokens the gateway issues (user tokens and attach tokens). Keys are PEM
// files so that every gateway replica can share one key pair (a Kubernetes Secret) and the agents
// can be given only the public half.
import { readFile, writeFile, mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import { CompactSign, compactVerify, exportPKCS8, exportSPKI, generateKeyPair, importPKCS8, importSPKI, type CryptoKey } from 'jose';
import { ConfigError, readNamedFile } from '../config/options.js';

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

/** Where a key pair's two PEM files are, and the flag that names each (for error messages). */
export interface KeyPairFiles {
  readonly privateKeyFile: string;
  readonly publicKeyFile: string;
  readonly privateFlag: string;
  readonly publicFlag: string;
}

/** True when `publicKey` verifies what `privateKey` signs: the two halves of one pair. */
async function halvesMatch(privateKey: CryptoKey, publicKey: CryptoKey): Promise<boolean> {
  const probe = await new CompactSign(new TextEncoder().encode('key pair check')).setProtectedHeader({ alg: SIGNING_ALG }).sign(privateKey);
  return compactVerify(probe, publicKey).then(
    () => true,
    () => false,
  );
}

/**
 * Loads a key pair given as files (shared deployments: a Secret mounted in every replica). Every
 * problem is a ConfigError naming the flag and file — a missing file, a file that is not the
 * right kind of key, or two files that are not halves of one pair, which would otherwise let
 * logins succeed and every token fail.
 */
export async function loadKeyPairFiles(files: KeyPairFiles): Promise<SigningKeyPair> {
  const problems: string[] = [];
  const read = async (flag: string, path: string) => (await readNamedFile(flag, path, problems))?.toString('utf8') ?? null;
  const [privatePem, publicPem] = await Promise.all([read(files.privateFlag, files.privateKeyFile), read(files.publicFlag, files.publicKeyFile)]);
  const privateKey = privatePem === null ? null : await importPKCS8(privatePem, SIGNING_ALG).catch(() => null);
  if (privatePem !== null && !privateKey) problems.push(`--${files.privateFlag} ${files.privateKeyFile}: not an ${SIGNING_ALG} private key in PEM (PKCS#8) form`);
  const publicKey = publicPem === null ? null : await importSPKI(publicPem, SIGNING_ALG).catch(() => null);
  if (publicPem !== null && !publicKey) problems.push(`--${files.publicFlag} ${files.publicKeyFile}: not an ${SIGNING_ALG} public key in PEM (SPKI) form`);
  if (privateKey && publicKey && !(await halvesMatch(privateKey, publicKey))) {
    problems.push(`--${files.publicFlag} ${files.publicKeyFile} is not the public key of --${files.privateFlag} ${files.privateKeyFile}`);
  }
  if (problems.length > 0 || !privateKey || !publicKey || publicPem === null) throw new ConfigError(problems);
  return { privateKey, publicKey, publicKeyPem: publicPem };
}
