import type { StatePort } from '../ports.ts';
import { statePort, type StateObjects } from '../state-data.ts';
import { immediate, type CallHook } from './hook.ts';
import type { Versioned } from './versioned.ts';

type Base = { version: number };

/** An in-memory data map as state data, each call through the hook. */
export function memoryStateObjects(store: Versioned<Record<string, string>>, hook: CallHook = immediate): StateObjects {
  return {
    get: () =>
      hook.around({ port: 'state', method: 'read', writes: false }, () => {
        const o = store.get();
        return o && { data: o.value, base: { version: o.version } as unknown };
      }),
    put: (base, data) =>
      hook.around({ port: 'state', method: 'write', writes: true }, () => {
        const o = store.put((base as Base).version, data);
        return { data: o.value, base: { version: o.version } as unknown };
      }),
  };
}

/** The state port on an in-memory data map, through the same rules as the state ConfigMap's. */
export function memoryState(
  store: Versioned<Record<string, string>>,
  where: string,
  maxBytes: number,
  hook: CallHook = immediate,
): StatePort {
  return statePort(memoryStateObjects(store, hook), where, maxBytes);
}
