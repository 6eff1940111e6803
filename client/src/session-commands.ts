// `cloudterm sessions`, `new`, `rm` and `share`: the sessions API from the command line.
import { clientCommand, openGateway } from './command.js';
import { GATEWAY_OPTIONS } from './client-config.js';
import { ClientError } from './errors.js';
import { ATTACH_OPTIONS } from './attach-command.js';
import { DEFAULT_DETACH_KEYS, parseDetachKeys } from './attach/detach-keys.js';
import { runAttachment } from './attach/attachment.js';
import { formatSessions } from './session-table.js';
import { isTerminal } from './prompt.js';
import type { WriteStream } from 'node:tty';

const SESSIONS = {
  synopsis: 'sessions',
  summary: 'list your sessions, those shared with you and those of the tenants you administer',
  positionals: [],
  options: { json: { flag: 'json', kind: 'boolean', help: 'print the gateway\'s JSON (for scripts)' }, ...GATEWAY_OPTIONS },
} as const;

export const runSessions = clientCommand('sessions', SESSIONS, async ({ values }, env, io) => {
  const { api } = await openGateway(values, env);
  const sessions = await api.listSessions();
  io.stdout.write(values.json ? `${JSON.stringify(sessions, null, 2)}\n` : formatSessions(sessions, new Date()));
  return 0;
});

const NEW = {
  synopsis: 'new',
  summary: 'start a session (and attach to it with --attach); prints its id',
  positionals: [],
  options: {
    name: { flag: 'name', kind: 'string', help: 'its name (default: one the gateway picks)' },
    tenant: { flag: 'tenant', kind: 'string', help: 'the tenant it belongs to (default: your first)' },
    attach: { flag: 'attach', kind: 'boolean', help: 'attach to it at once' },
    ...ATTACH_OPTIONS,
    ...GATEWAY_OPTIONS,
  },
} as const;

export const runNew = clientCommand('new', NEW, async ({ values }, env, io) => {
  const detachKeys = parseDetachKeys(values.detachKeys ?? DEFAULT_DETACH_KEYS);
  const gateway = await openGateway(values, env);
  const stdout = io.stdout as WriteStream;
  // Started at this terminal's size, so that the first screen needs no redraw.
  const size = isTerminal(io.stdout) && stdout.columns && stdout.rows ? { cols: stdout.columns, rows: stdout.rows } : {};
  const session = await gateway.api.createSession({ name: values.name, tenant: values.tenant, ...size });
  if (!values.attach) {
    io.stdout.write(`${session.id}\n`);
    return 0;
  }
  return runAttachment(gateway, session, { readOnly: values.readOnly === true, detachKeys }, io);
});

const RM = {
  synopsis: 'rm ID|NAME',
  summary: 'end a session (its program gets a hangup)',
  positionals: ['ID|NAME'],
  options: GATEWAY_OPTIONS,
} as const;

export const runRm = clientCommand('rm', RM, async ({ values, args }, env, io) => {
  const { api } = await openGateway(values, env);
  const session = await api.resolveSession(args[0]!);
  await api.deleteSession(session.id);
  io.stderr.write(`ended ${session.name} (${session.id})\n`);
  return 0;
});

const SHARE = {
  synopsis: 'share ID|NAME USER rw|ro',
  summary: 'let USER attach to a session, read-write or read-only',
  positionals: ['ID|NAME', 'USER', 'rw|ro'],
  options: GATEWAY_OPTIONS,
} as const;

export const runShare = clientCommand('share', SHARE, async ({ values, args }, env, io) => {
  const [target, user, role] = args as [string, string, string];
  if (role !== 'rw' && role !== 'ro') throw new ClientError('usage', `the role is rw or ro, not "${role}"`);
  const { api } = await openGateway(values, env);
  const session = await api.resolveSession(target);
  await api.share(session.id, user, role);
  io.stderr.write(`${user} may now attach to ${session.name} (${session.id}) ${role === 'rw' ? 'read-write' : 'read-only'}\n`);
  return 0;
});
