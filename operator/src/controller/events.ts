// Kubernetes Events about a TerminalSession (`kubectl describe ts` lists them): core/v1 Events,
// which every kubectl version reads. Recording is best effort — an Event that cannot be written is
// logged, never a reason to fail or retry the reconcile that made it.
import { randomBytes } from 'node:crypto';
import type { Logger } from '../../../core/src/index.js';
import { API_VERSION, KIND, type TerminalSession } from '../api/index.js';
import type { KubeClient } from '../kube/client.js';
import type { Clock } from './clock.js';

export type EventType = 'Normal' | 'Warning';

export interface EventRecorder {
  record(session: TerminalSession, type: EventType, reason: string, message: string): void;
}

export const EVENT_SOURCE = 'cloudterm-operator';

export function createEventRecorder(client: KubeClient, clock: Clock, log: Logger, reportingInstance: string): EventRecorder {
  return {
    record(session, type, reason, message) {
      const { namespace = '', name = '', uid, resourceVersion } = session.metadata;
      const time = new Date(clock.now()).toISOString().replace(/\.\d+Z$/, 'Z');
      const body = {
        apiVersion: 'v1',
        kind: 'Event',
        metadata: { name: `${name}.${clock.now().toString(16)}${randomBytes(3).toString('hex')}`, namespace },
        involvedObject: { apiVersion: API_VERSION, kind: KIND, name, namespace, uid, resourceVersion },
        reason,
        message,
        type,
        source: { component: EVENT_SOURCE },
        reportingComponent: EVENT_SOURCE,
        reportingInstance,
        firstTimestamp: time,
        lastTimestamp: time,
        count: 1,
      };
      client.create(`/api/v1/namespaces/${namespace}/events`, body).catch((error: Error) => {
        log.warn({ namespace, name, reason, err: error.message }, 'Could not record an Event');
      });
    },
  };
}
