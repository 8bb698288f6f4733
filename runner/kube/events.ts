import type { KubeClient } from '../../core/kube/client.ts';
import { transitionEvent } from '../events.ts';
import type { EventPort } from '../ports.ts';

// One Kubernetes Event per phase transition, about the state ConfigMap that keeps the follower's record. Events expire (an hour by
// default); the record's own history keeps the transitions for `events` after that.
export function kubeEvents(
  client: KubeClient,
  namespace: string,
  stateConfigMapOf: (followerId: string) => string,
): EventPort {
  const path = `/apis/events.k8s.io/v1/namespaces/${encodeURIComponent(namespace)}/events`;
  return {
    async emit(followerId, transitions, instance) {
      for (const t of transitions) {
        await client.post(
          path,
          transitionEvent(namespace, stateConfigMapOf(followerId), followerId, t, instance),
          'create',
          `Event for ${followerId}`,
        );
      }
    },
  };
}
