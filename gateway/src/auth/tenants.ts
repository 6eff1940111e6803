// Tenant membership. A tenant is a Kubernetes namespace: the operator runs a tenant's sessions in
// the namespace of the same name, so tenant names must be valid DNS-1123 labels.
//
// Where membership comes from:
// - a tenants file, `{"tenants": {"team-a": {"members": ["alice", "bob"], "admins": ["alice"]}}}`
//   (admins are members too, whether or not they are also listed under members);
// - without a file, one default tenant ("local" in local mode) that every user belongs to, as a
//   plain member;
// - for OIDC users, also their groups claim: a group named exactly like a configured tenant makes
//   them a member of it, and a group `<tenant>:admin` makes them an admin of it. Groups naming no
//   configured tenant are ignored, so an IdP cannot create tenants, only grant membership in the
//   ones the operator configured (with no file, the default tenant is the one configured tenant).
import { ConfigFileError, readConfigFile } from '../../../core/src/config/options.js';

export interface TenantMembership {
  readonly tenant: string;
  readonly admin: boolean;
}

/** RFC 1123 label, as Kubernetes checks namespace names. */
const DNS_1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const MAX_LABEL_LENGTH = 63;
const ADMIN_GROUP_SUFFIX = ':admin';

export function isTenantName(name: string): boolean {
  return name.length <= MAX_LABEL_LENGTH && DNS_1123_LABEL.test(name);
}

/** Every problem found in a tenants file, reported together. */
export class TenantsFileError extends ConfigFileError {
  override readonly name: string = 'TenantsFileError';
}

interface TenantEntry {
  readonly members: ReadonlySet<string>;
  readonly admins: ReadonlySet<string>;
}

export class Tenants {
  /** Tenant name → members; insertion order is the order tenantsOf() lists them in. */
  private constructor(
    private readonly tenants: ReadonlyMap<string, TenantEntry>,
    private readonly everyoneIn: string | null,
  ) {}

  /** Every user is a member (not an admin) of `name`. */
  static single(name: string): Tenants {
    if (!isTenantName(name)) throw new TypeError(`default tenant "${name}" is not a valid namespace name (lowercase DNS-1123 label, at most 63 characters)`);
    return new Tenants(new Map([[name, { members: new Set(), admins: new Set() }]]), name);
  }

  /** Parses a tenants file's text; throws TenantsFileError listing every problem. */
  static parse(text: string, fileName: string): Tenants {
    let document: unknown;
    try {
      document = JSON.parse(text);
    } catch (error) {
      throw new TenantsFileError(fileName, [`not valid JSON: ${(error as Error).message}`]);
    }
    const problems: string[] = [];
    const tenants = new Map<string, TenantEntry>();
    if (!isPlainObject(document)) throw new TenantsFileError(fileName, ['expected an object {"tenants": {...}}']);
    for (const key of Object.keys(document)) if (key !== 'tenants') problems.push(`unknown key "${key}" (expected only "tenants")`);
    const entries = document['tenants'];
    if (!isPlainObject(entries)) {
      problems.push('"tenants" must be an object mapping tenant names to {"members": [...], "admins": [...]}');
      throw new TenantsFileError(fileName, problems);
    }
    for (const [name, value] of Object.entries(entries)) {
      const at = `tenants.${name}`;
      if (!isTenantName(name)) problems.push(`${at}: "${name}" is not a valid namespace name (lowercase DNS-1123 label: a-z 0-9 -, at most 63 characters, starting and ending with a letter or digit)`);
      if (!isPlainObject(value)) {
        problems.push(`${at}: expected an object {"members": [...], "admins": [...]}`);
        continue;
      }
      for (const key of Object.keys(value)) if (key !== 'members' && key !== 'admins') problems.push(`${at}: unknown key "${key}" (expected "members" and "admins")`);
      const members = userList(value['members'], `${at}.members`, problems);
      const admins = userList(value['admins'], `${at}.admins`, problems);
      tenants.set(name, { members: new Set([...members, ...admins]), admins: new Set(admins) });
    }
    if (problems.length > 0) throw new TenantsFileError(fileName, problems);
    return new Tenants(tenants, null);
  }

  static async load(path: string): Promise<Tenants> {
    return Tenants.parse(await readConfigFile('tenants-file', path), path);
  }

  /** The tenants file at `file`, or one default tenant for everyone when there is none. */
  static async fromConfig(options: TenantsOptions): Promise<Tenants> {
    return options.file === null ? Tenants.single(options.defaultTenant) : Tenants.load(options.file);
  }

  /** The tenants `user` belongs to, in configuration order; `groups` are an OIDC user's groups. */
  tenantsOf(user: string, groups: readonly string[] = []): TenantMembership[] {
    const groupSet = new Set(groups);
    const result: TenantMembership[] = [];
    for (const [tenant, entry] of this.tenants) {
      const admin = entry.admins.has(user) || groupSet.has(tenant + ADMIN_GROUP_SUFFIX);
      const member = admin || tenant === this.everyoneIn || entry.members.has(user) || groupSet.has(tenant);
      if (member) result.push({ tenant, admin });
    }
    return result;
  }
}

export interface TenantsOptions {
  /** The tenants JSON file; null puts every user in `defaultTenant`. */
  readonly file: string | null;
  /** "local" in local mode. */
  readonly defaultTenant: string;
}

function userList(value: unknown, at: string, problems: string[]): string[] {
  if (value === undefined) return [];
  if (!Array.isArray(value)) {
    problems.push(`${at}: expected a list of user names`);
    return [];
  }
  const users: string[] = [];
  value.forEach((item: unknown, index) => {
    if (typeof item === 'string' && item.length > 0) users.push(item);
    else problems.push(`${at}[${index}]: expected a non-empty user name string`);
  });
  return users;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
