// The audit trail: who logged in, opened, shared, attached to and ended which terminal. One JSON
// log line per event at info, under an `audit` key (`jq 'select(.audit)'` picks them out of the
// gateway's log), with stable field names (docs/gateway.md, "Audit"). Never a credential.
import type { Logger } from 'pino';
import type { Role } from '../../../core/src/protocol/messages.js';
import type { SpliceEnd } from '../proxy/index.js';

export type AuditEvent =
  | { readonly event: 'login'; readonly user: string; readonly result: string; readonly address: string }
  | { readonly event: 'logout'; readonly user: string }
  | { readonly event: 'session.create'; readonly user: string; readonly session: string; readonly tenant: string; readonly recorded: boolean }
  | { readonly event: 'session.rename'; readonly user: string; readonly session: string; readonly name: string }
  | { readonly event: 'session.delete'; readonly user: string; readonly session: string }
  | { readonly event: 'session.share'; readonly user: string; readonly session: string; readonly with: string; readonly role: Role | null }
  | { readonly event: 'attach.open'; readonly user: string; readonly session: string; readonly role: Role; readonly address: string }
  | {
      readonly event: 'attach.close';
      readonly user: string;
      readonly session: string;
      readonly end: SpliceEnd;
      readonly seconds: number;
      /** Bytes the browser sent (keystrokes) and received (output). */
      readonly bytesIn: number;
      readonly bytesOut: number;
    };

export function audit(log: Logger, event: AuditEvent): void {
  log.info({ audit: event }, `audit ${event.event}`);
}
