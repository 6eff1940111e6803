export type { TerminalBackend, StartRequest, StartedTerminal } from './backend.js';
export { LocalBackend, type LocalBackendOptions } from './local-backend.js';
export { createBackend, type BackendConfig } from './create-backend.js';
export {
  SessionService,
  accessOf,
  attachRole,
  toView,
  type AccessRole,
  type CreateRequest,
  type Principal,
  type SessionLimits,
  type SessionServiceOptions,
  type SessionView,
} from './session-service.js';
