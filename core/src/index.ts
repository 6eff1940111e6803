// The contract every part shares, by its public names: the terminal protocol and close codes, the
// signing keys and the attach token (the gateway–agent contract), listening and raw HTTP, the
// native addon loader, the metrics registry, the config spec machinery, the logger, and what a
// command is given. core/ imports no other part (test/unit/import-rules.test.ts).
export * from './protocol/messages.js';
export * from './protocol/close-codes.js';
export * from './protocol/compression.js';
export * from './keys/index.js';
export * from './keys/attach-token.js';
export * from './net/listen-address.js';
export * from './net/listen.js';
export * from './net/raw-http.js';
export * from './net/plain-server.js';
export * from './net/socket-descriptor.js';
export * from './native/load-addon.js';
export * from './metrics/registry.js';
export { registerProcessMetrics } from './metrics/process-metrics.js';
export * from './config/options.js';
export * from './config/program.js';
export * from './log.js';
export type * from './command.js';
