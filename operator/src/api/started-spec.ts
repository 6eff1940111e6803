// The spec a session was started with, recorded on the object the operator creates for it (its
// pod), so that the immutability rules can be checked on API servers older than 1.25, which do not
// enforce transition rules: celViolations(session, { metadata: session.metadata, spec: started }).
// Without it a changed spec.owner on such a server would go unnoticed while the shell runs on.
import type { TerminalSessionSpec } from './terminal-session.js';

export const STARTED_SPEC_ANNOTATION = 'cloudterm.io/started-spec';

/** The annotation to put on the session's pod when creating it. */
export function startedSpecAnnotation(spec: TerminalSessionSpec): Record<string, string> {
  return { [STARTED_SPEC_ANNOTATION]: JSON.stringify(spec) };
}

/** The spec recorded by startedSpecAnnotation(), or undefined when there is none or it is not an object. */
export function startedSpecOf(annotations: Record<string, string> | undefined): TerminalSessionSpec | undefined {
  const text = annotations?.[STARTED_SPEC_ANNOTATION];
  if (text === undefined) return undefined;
  try {
    const spec: unknown = JSON.parse(text);
    return spec !== null && typeof spec === 'object' && !Array.isArray(spec) ? (spec as TerminalSessionSpec) : undefined;
  } catch {
    return undefined;
  }
}
