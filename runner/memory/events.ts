import { transitionEvent } from '../events.ts';
import type { EventPort } from '../ports.ts';
import { immediate, type CallHook } from './hook.ts';

/** The Events the pass emitted, as the Kubernetes Event port would have created them. */
export class MemoryEvents {
  readonly created: ReturnType<typeof transitionEvent>[] = [];
  private readonly namespace: string;
  private readonly stateConfigMap: string;

  constructor(namespace: string, stateConfigMap: string) {
    this.namespace = namespace;
    this.stateConfigMap = stateConfigMap;
  }

  port(hook: CallHook = immediate): EventPort {
    return {
      emit: async (followerId, transitions, instance) => {
        for (const t of transitions) {
          const event = transitionEvent(this.namespace, this.stateConfigMap, followerId, t, instance);
          await hook.around({ port: 'events', method: 'create', writes: true }, () => this.created.push(event));
        }
      },
    };
  }
}
