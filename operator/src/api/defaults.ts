// The defaults of a TerminalSession's spec. The schema's `default`s in crds/terminalsession.yaml are
// what the API server applies; test/unit/api/crd.test.ts fails when these constants differ.
import type { ResourceRequirements, TerminalSize } from './terminal-session.js';

export const DEFAULT_IMAGE = 'ghcr.io/cloudterm/cloudterm:0.1.0';
export const DEFAULT_IDLE_TIMEOUT = '30m';
export const DEFAULT_MAX_LIFETIME = '8h';
export const DEFAULT_TTL_AFTER_END = '1h';
export const DEFAULT_SIZE: Readonly<TerminalSize> = Object.freeze({ cols: 80, rows: 24 });

/**
 * What the operator gives a terminal pod when spec.resources leaves a value out. Not a schema
 * default: a partial spec.resources would otherwise lose them all (the server defaults only absent
 * fields), and a user's limit below a defaulted request would make the pod invalid.
 */
// The memory request is an idle terminal as its cgroup charges it, with a fifth more: agent and
// shell hold 15–20 MiB of private anonymous memory once idle (`npm run bench -- pod-memory`,
// docs/benchmarks.md); the `node` binary's pages are the page cache's, shared by every pod of a
// node. The limit leaves room for what the shell runs (kubectl, an editor, git).
export const DEFAULT_RESOURCES: Readonly<Required<ResourceRequirements>> = Object.freeze({
  requests: Object.freeze({ cpu: '50m', memory: '24Mi' }),
  limits: Object.freeze({ memory: '256Mi' }),
});
