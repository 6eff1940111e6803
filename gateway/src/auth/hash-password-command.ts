// `cloudterm hash-password [--user NAME]`: reads a password on stdin (never from argv, where it
// would show in `ps` and shell history) and prints a bcrypt htpasswd line.
import { text } from 'node:stream/consumers';
import type { CommandIo, Environment } from '../../../core/src/command.js';
import { hashPassword } from './passwords.js';

/** bcrypt's input limit: bytes past it take no part in the hash. */
const BCRYPT_MAX_PASSWORD_BYTES = 72;

export async function runHashPasswordCommand(argv: readonly string[], _env: Environment, io: CommandIo): Promise<number> {
  const userFlag = argv.indexOf('--user');
  const user = userFlag === -1 ? undefined : argv[userFlag + 1];
  if ((userFlag !== -1 && !user) || argv.some((arg, i) => arg.startsWith('--') && arg !== '--user' && i !== userFlag + 1)) {
    io.stderr.write('usage: cloudterm hash-password [--user NAME] < password\n');
    return 2;
  }
  if (user !== undefined && !/^[A-Za-z0-9._@-]{1,64}$/.test(user)) {
    io.stderr.write('cloudterm hash-password: user names are 1-64 of A-Z a-z 0-9 . _ @ -\n');
    return 2;
  }
  const password = (await text(io.stdin)).replace(/\r?\n$/, '');
  if (password.length < 8) {
    io.stderr.write('cloudterm hash-password: the password must be at least 8 characters\n');
    return 2;
  }
  // bcrypt reads the first 72 bytes only: a longer password would be matched by any password
  // that shares those 72 bytes, so it is refused rather than silently shortened.
  if (Buffer.byteLength(password) > BCRYPT_MAX_PASSWORD_BYTES) {
    io.stderr.write(`cloudterm hash-password: the password must be at most ${BCRYPT_MAX_PASSWORD_BYTES} bytes (bcrypt ignores the rest)\n`);
    return 2;
  }
  const hash = await hashPassword(password);
  io.stdout.write(user === undefined ? `${hash}\n` : `${user}:${hash}\n`);
  return 0;
}
