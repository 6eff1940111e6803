// Picks where terminals run from the configuration, as createStores picks the store: local agent
// processes now; the Kubernetes backend (a TerminalSession per terminal) slots in as one more kind.
import type { TerminalBackend } from './backend.js';
import { LocalBackend, type LocalBackendOptions } from './local-backend.js';

export type BackendConfig = { readonly kind: 'local' } & LocalBackendOptions;

export function createBackend(config: BackendConfig): TerminalBackend {
  switch (config.kind) {
    case 'local':
      return new LocalBackend(config);
  }
}
