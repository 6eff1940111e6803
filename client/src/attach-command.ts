// `cloudterm attach ID|NAME [--ro] [--detach-keys KEYS]`: the session's terminal in this one.
import { clientCommand, openGateway } from './command.js';
import { GATEWAY_OPTIONS } from './client-config.js';
import { DEFAULT_DETACH_KEYS, parseDetachKeys } from './attach/detach-keys.js';
import { runAttachment } from './attach/attachment.js';

/** The options of every command that attaches (attach, new --attach). */
export const ATTACH_OPTIONS = {
  readOnly: { flag: 'ro', kind: 'boolean', help: 'attach read-only: nothing typed is sent, the size is left alone' },
  detachKeys: { flag: 'detach-keys', env: 'CLOUDTERM_DETACH_KEYS', kind: 'string', help: `the detach sequence (default ${DEFAULT_DETACH_KEYS}; "none" to disable)` },
} as const;

const ATTACH = {
  synopsis: 'attach ID|NAME',
  summary: 'attach this terminal to a session; it reconnects by itself and resumes where it was',
  positionals: ['ID|NAME'],
  options: { ...ATTACH_OPTIONS, ...GATEWAY_OPTIONS },
} as const;

export const runAttach = clientCommand('attach', ATTACH, async ({ values, args }, env, io) => {
  const detachKeys = parseDetachKeys(values.detachKeys ?? DEFAULT_DETACH_KEYS);
  const gateway = await openGateway(values, env);
  const session = await gateway.api.resolveSession(args[0]!);
  return runAttachment(gateway, session, { readOnly: values.readOnly === true, detachKeys }, io);
});
