import type { StateObjects } from '../../runner/state-data.ts';
import type { Versioned } from '../../runner/memory/versioned.ts';

/** An in-memory state object as state data (the raw keys the carry-over moves). */
export function statePortObjects(store: Versioned<Record<string, string>>): StateObjects {
  return {
    get: async () => {
      const o = store.get();
      return o && { data: o.value, base: o.version as unknown };
    },
    put: async (base, data) => {
      const o = store.put(base as number, data);
      return { data: o.value, base: o.version as unknown };
    },
  };
}
