// cloudterm.io/v1alpha1: the public names of the TerminalSession API, for the operator and the gateway.
export * from './terminal-session.js';
export { DURATION_PATTERN, DurationError, parseDuration, formatDuration } from './duration.js';
export * from './defaults.js';
export { type Expiry, type ExpiryReason, expiryOf } from './expiry.js';
export { applySchemaDefaults, withDefaults } from './schema-defaults.js';
export { type CelRule, type CelViolation, type SessionObject, CEL_RULES, celViolations } from './cel-rules.js';
export { STARTED_SPEC_ANNOTATION, startedSpecAnnotation, startedSpecOf } from './started-spec.js';
