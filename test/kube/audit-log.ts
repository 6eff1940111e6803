// Reads the API server's audit log (one JSON event per line, policy level Metadata) as the list a
// test asserts on: who called what, and what the server answered.
import { readFileSync } from 'node:fs';

export interface AuditEntry {
  readonly user: string;
  readonly groups: readonly string[];
  readonly userAgent: string;
  readonly verb: string;
  /** Empty for non-resource requests (`/readyz`, discovery). */
  readonly resource: string;
  readonly subresource: string;
  readonly namespace: string;
  readonly name: string;
  /** The HTTP status the server answered. */
  readonly code: number;
  readonly requestURI: string;
  /** When the request was received (RFC 3339 with microseconds). */
  readonly time: string;
  /** When the answer was complete (same format): with `time`, the server's latency. */
  readonly completed: string;
}

interface AuditEvent {
  stage?: string;
  verb?: string;
  requestURI?: string;
  user?: { username?: string; groups?: string[] };
  userAgent?: string;
  objectRef?: { resource?: string; subresource?: string; namespace?: string; name?: string };
  responseStatus?: { code?: number };
  requestReceivedTimestamp?: string;
  stageTimestamp?: string;
}

export function readAuditLog(path: string): AuditEntry[] {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw error;
  }
  const entries: AuditEntry[] = [];
  for (const line of text.split('\n')) {
    if (!line) continue;
    let event: AuditEvent;
    try {
      event = JSON.parse(line) as AuditEvent;
    } catch {
      continue; // the last line, while the server is still writing it
    }
    if (event.stage !== 'ResponseComplete' && event.stage !== 'Panic') continue;
    entries.push({
      user: event.user?.username ?? '',
      groups: event.user?.groups ?? [],
      userAgent: event.userAgent ?? '',
      verb: event.verb ?? '',
      resource: event.objectRef?.resource ?? '',
      subresource: event.objectRef?.subresource ?? '',
      namespace: event.objectRef?.namespace ?? '',
      name: event.objectRef?.name ?? '',
      code: event.responseStatus?.code ?? 0,
      requestURI: event.requestURI ?? '',
      time: event.requestReceivedTimestamp ?? '',
      completed: event.stageTimestamp ?? '',
    });
  }
  return entries;
}
