// The users file: Apache htpasswd format, bcrypt only. Weaker schemes that htpasswd can also write
// (MD5 `$apr1$`, `{SHA}`, crypt, plain text) are refused at start rather than silently accepted,
// because a stolen file of those falls to an offline attack in minutes.
import { ConfigFileError, readConfigFile } from '../../../core/src/config/options.js';

/** User name → bcrypt hash, in file order. */
export type HtpasswdUsers = ReadonlyMap<string, string>;

/**
 * The same rule as `cloudterm hash-password --user`: user names end up in log lines, Redis keys
 * and session owner fields, so they are kept to characters that need no escaping anywhere.
 */
export const USER_NAME_PATTERN = /^[A-Za-z0-9._@-]{1,64}$/;

// bcrypt's modular crypt format: $2a$/$2b$/$2y$, a two-digit cost, 22 characters of salt and 31 of
// hash in bcrypt's base64 alphabet.
const BCRYPT_HASH = /^\$2[aby]\$(\d\d)\$[./A-Za-z0-9]{53}$/;
const MIN_BCRYPT_COST = 4;
const MAX_BCRYPT_COST = 31;

/** Every problem found in one users file; `problems` are `file:line: what` strings. */
export class HtpasswdError extends ConfigFileError {
  override readonly name: string = 'HtpasswdError';
}

/**
 * Parses an htpasswd file's text. Throws one HtpasswdError listing every problem, so an operator
 * fixes the file in one go. Messages never quote a hash or anything that could be a password: a
 * malformed line may well be a password pasted in the wrong place.
 */
export function parseHtpasswd(text: string, fileName: string): HtpasswdUsers {
  const users = new Map<string, string>();
  const firstLine = new Map<string, number>();
  const problems: string[] = [];
  const lines = text.split(/\r?\n/);
  lines.forEach((raw, index) => {
    const lineNumber = index + 1;
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) return;
    const problem = (what: string): void => {
      problems.push(`${fileName}:${lineNumber}: ${what}`);
    };
    const colon = line.indexOf(':');
    if (colon === -1) return problem('expected "user:hash"');
    const user = line.slice(0, colon);
    const hash = line.slice(colon + 1);
    if (!USER_NAME_PATTERN.test(user)) return problem('the user name must be 1-64 of A-Z a-z 0-9 . _ @ -');
    const hashProblem = checkHash(hash);
    if (hashProblem) problem(`user "${user}": ${hashProblem}`);
    const seenOn = firstLine.get(user);
    if (seenOn !== undefined) return problem(`user "${user}" is listed twice (first on line ${seenOn})`);
    firstLine.set(user, lineNumber);
    if (!hashProblem) users.set(user, hash);
  });
  if (problems.length > 0) throw new HtpasswdError(fileName, problems);
  return users;
}

/** Reads and parses the users file at `path`; errors name the file as given. */
export async function loadHtpasswd(path: string): Promise<HtpasswdUsers> {
  return parseHtpasswd(await readConfigFile('users-file', path), path);
}

/** The cost (log2 rounds) of a hash parseHtpasswd accepted. */
export function bcryptCost(hash: string): number {
  const match = BCRYPT_HASH.exec(hash);
  if (!match?.[1]) throw new TypeError('not a bcrypt hash');
  return Number(match[1]);
}

function checkHash(hash: string): string | null {
  const match = BCRYPT_HASH.exec(hash);
  if (match?.[1]) {
    const cost = Number(match[1]);
    if (cost < MIN_BCRYPT_COST || cost > MAX_BCRYPT_COST) return `the bcrypt cost must be ${MIN_BCRYPT_COST}-${MAX_BCRYPT_COST}, got ${cost}`;
    return null;
  }
  const fix = 'only bcrypt is accepted: make one with `cloudterm hash-password` or `htpasswd -B`';
  if (hash === '') return `no hash; ${fix}`;
  if (/^\$2[aby]\$/.test(hash)) return 'malformed bcrypt hash';
  if (hash.startsWith('$apr1$')) return `MD5 ($apr1$) hashes are refused; ${fix}`;
  if (hash.startsWith('{SHA}')) return `SHA-1 ({SHA}) hashes are refused; ${fix}`;
  if (/^\$(1|5|6|md5|sha1|y|7)\$/.test(hash)) return `crypt(3) hashes are refused; ${fix}`;
  if (/^[./A-Za-z0-9]{13}$/.test(hash)) return `DES crypt hashes are refused; ${fix}`;
  return `not a bcrypt hash (plain text or an unknown scheme); ${fix}`;
}
