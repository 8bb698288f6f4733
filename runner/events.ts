import { microTime } from './lease.ts';
import type { Transition } from './state-record.ts';

/** The label that ties an Event to its follower, so `events --follower` can list them. */
export const FOLLOWER_LABEL = 'branch-follower.unidesk.dev/follower';

const WARNING = new Set(['Failed', 'Superseded']);

/** The Event for one transition (pure), about the state ConfigMap that holds the record. */
export function transitionEvent(
  namespace: string,
  stateConfigMap: string,
  followerId: string,
  t: Transition,
  instance: string,
) {
  return {
    apiVersion: 'events.k8s.io/v1',
    kind: 'Event',
    metadata: {
      generateName: `${followerId}-`,
      namespace,
      labels: { [FOLLOWER_LABEL]: followerId, 'app.kubernetes.io/managed-by': 'branch-follower' },
    },
    eventTime: microTime(Date.parse(t.at)),
    reportingController: 'branch-follower.unidesk.dev/reconcile-pass',
    reportingInstance: instance.slice(0, 128),
    action: t.to,
    reason: t.reason.replace(/[^A-Za-z0-9]/g, '').slice(0, 128) || t.to,
    type: WARNING.has(t.to) ? 'Warning' : 'Normal',
    note: `${followerId}: ${t.from ?? '(new)'} -> ${t.to}${t.sha ? ` ${t.sha.slice(0, 12)}` : ''}${t.detail ? `: ${t.detail}` : ''}`.slice(
      0,
      1024,
    ),
    regarding: { apiVersion: 'v1', kind: 'ConfigMap', namespace, name: stateConfigMap },
  };
}
