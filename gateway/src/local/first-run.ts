// Local mode's first start: with no users file yet, make an `admin` user with a random password,
// store only its bcrypt hash (mode 0600), and hand the password back to be shown once, next to
// the URL — the way a notebook server shows its token.
import { randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { prepareDirectory } from '../config/directory.js';
import { dirname } from 'node:path';
import { hashPassword } from '../auth/passwords.js';

export const FIRST_USER = 'admin';

/** Returns the generated password, or null when the users file already existed. */
export async function ensureFirstUser(usersFile: string): Promise<string | null> {
  const password = randomBytes(18).toString('base64url');
  const line = `${FIRST_USER}:${await hashPassword(password)}\n`;
  await prepareDirectory(dirname(usersFile), 'users-file');
  try {
    await writeFile(usersFile, line, { mode: 0o600, flag: 'wx' });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return null;
    throw error;
  }
  return password;
}
