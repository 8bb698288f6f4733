import type { OldStateObject } from '../carry-over.ts';
import { immediate, type CallHook } from './hook.ts';
import type { Versioned } from './versioned.ts';

type Base = { version: number };

/** The single state object of the layout before shards, in memory, as runner/kube/state-store.ts keeps it. */
export function memoryOldState(store: Versioned<Record<string, string>>, hook: CallHook = immediate): OldStateObject {
  return {
    get: () =>
      hook.around({ port: 'state', method: 'read', writes: false }, () => {
        const o = store.get();
        return o && { data: o.value, base: { version: o.version } as unknown };
      }),
    delete: (base) =>
      hook.around({ port: 'state', method: 'delete', writes: true }, () => store.remove((base as Base).version)),
  };
}
