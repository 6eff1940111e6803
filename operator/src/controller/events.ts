// Kubernetes Events about a TerminalSession (`kubectl describe ts` lists them): core/v1 Events,
// which every kubectl version reads. Recording is best effort and off every reconcile's path: an
// Event that cannot be written is logged, never a reason to fail or retry the reconcile that made
// it. At most EVENT_WRITERS are written at once, the rest wait in a bounded queue, so that a burst
// of sessions (two Normal Events each) does not take the API server's time from the requests
// that start terminals; a Normal Event that finds the queue full is dropped and counted, as
// client-go's broadcaster drops when its queue is full. Warnings always wait their turn.
import { randomBytes } from 'node:crypto';
import type { Logger } from '../../../core/src/index.js';
import { API_VERSION, KIND, type TerminalSession } from '../api/index.js';
import type { KubeClient } from '../kube/client.js';
import type { Clock } from './clock.js';

export type EventType = 'Normal' | 'Warning';

export interface EventRecorder {
  record(session: TerminalSession, type: EventType, reason: string, message: string): void;
  /** Normal Events dropped because the queue was full. */
  readonly dropped: number;
}

export const EVENT_SOURCE = 'cloudterm-operator';
export const EVENT_WRITERS = 4;
export const EVENT_QUEUE = 100;

export function createEventRecorder(client: KubeClient, clock: Clock, log: Logger, reportingInstance: string): EventRecorder {
  const queue: Array<{ namespace: string; reason: string; body: unknown }> = [];
  let writing = 0;
  let dropped = 0;
  const pump = () => {
    while (writing < EVENT_WRITERS && queue.length > 0) {
      const { namespace, reason, body } = queue.shift()!;
      writing += 1;
      client
        .create(`/api/v1/namespaces/${namespace}/events`, body)
        .catch((error: Error) => log.warn({ namespace, reason, err: error.message }, 'Could not record an Event'))
        .finally(() => {
          writing -= 1;
          pump();
        });
    }
  };
  return {
    get dropped() {
      return dropped;
    },
    record(session, type, reason, message) {
      const { namespace = '', name = '', uid, resourceVersion } = session.metadata;
      if (type === 'Normal' && queue.length >= EVENT_QUEUE) {
        dropped += 1;
        log.debug({ namespace, name, reason }, 'Event dropped: too many waiting to be written');
        return;
      }
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
      queue.push({ namespace, reason, body });
      pump();
    },
  };
}
