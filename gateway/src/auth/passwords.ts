// Password hashing with bcrypt. Cost 12 is about 250 ms per hash on a modern core: slow for an
// attacker with a stolen hash, acceptable for a login.
import bcrypt from 'bcrypt';

export const BCRYPT_COST = 12;

export function hashPassword(password: string): Promise<string> {
  return bcrypt.hash(password, BCRYPT_COST);
}

/**
 * Compares a password with an htpasswd bcrypt hash. `$2y$` (htpasswd -B) and `$2a$` are the same
 * algorithm as `$2b$`; the prefix is normalised because not every bcrypt build accepts all three.
 */
export function verifyPassword(password: string, hash: string): Promise<boolean> {
  return bcrypt.compare(password, hash.replace(/^\$2[ay]\$/, '$2b$'));
}
