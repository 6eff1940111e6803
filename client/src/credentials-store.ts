// The logins the client holds: one token per gateway, in a file only the user can read (0600, in a
// 0700 directory), written whole and renamed into place so that a crash never leaves half a file.
import { chmod, mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { ClientError } from './errors.js';

export interface StoredLogin {
  readonly user: string;
  readonly token: string;
  /** ISO time; the gateway decides, this is for `cloudterm sessions` to warn early. */
  readonly expiresAt: string | null;
  /** The CA file given at login, used again by every later command. */
  readonly caFile: string | null;
}

interface CredentialsFile {
  /** The gateway the last login was to: commands use it unless told `--url`. */
  current: string | null;
  gateways: Record<string, StoredLogin>;
}

export const CREDENTIALS_FILE = 'credentials.json';

export class CredentialsStore {
  constructor(readonly directory: string) {}

  get path(): string {
    return join(this.directory, CREDENTIALS_FILE);
  }

  private async read(): Promise<CredentialsFile> {
    let text: string;
    try {
      text = await readFile(this.path, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return { current: null, gateways: {} };
      throw new ClientError('failed', `cannot read ${this.path}: ${(error as Error).message}`);
    }
    try {
      const parsed = JSON.parse(text) as Partial<CredentialsFile>;
      return { current: typeof parsed.current === 'string' ? parsed.current : null, gateways: { ...parsed.gateways } };
    } catch {
      throw new ClientError('failed', `${this.path} is not valid JSON: remove it and log in again`);
    }
  }

  private async write(file: CredentialsFile): Promise<void> {
    await mkdir(this.directory, { recursive: true, mode: 0o700 });
    const temporary = `${this.path}.${randomBytes(6).toString('hex')}.tmp`;
    await writeFile(temporary, `${JSON.stringify(file, null, 2)}\n`, { mode: 0o600 });
    // The mode given to writeFile is filtered by the umask; the file must be the user's alone.
    await chmod(temporary, 0o600);
    await rename(temporary, this.path);
  }

  /** The login to `url`, or to the gateway logged in to last; refused when there is none. */
  async find(url: string | null): Promise<{ url: string; login: StoredLogin }> {
    const file = await this.read();
    const target = url ?? file.current;
    if (target === null) throw new ClientError('refused', 'not logged in: run `cloudterm login URL` first');
    const login = file.gateways[target];
    if (!login) throw new ClientError('refused', `not logged in to ${target}: run \`cloudterm login ${target}\` first`);
    return { url: target, login };
  }

  async save(url: string, login: StoredLogin): Promise<void> {
    const file = await this.read();
    file.gateways[url] = login;
    file.current = url;
    await this.write(file);
  }

  async remove(url: string): Promise<void> {
    const file = await this.read();
    delete file.gateways[url];
    if (file.current === url) file.current = Object.keys(file.gateways)[0] ?? null;
    if (file.current === null) await rm(this.path, { force: true });
    else await this.write(file);
  }
}
