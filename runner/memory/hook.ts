// Every call of an in-memory port goes through a hook: where a simulation interleaves passes (it
// parks a call and lets another pass run), injects a failure (it throws), slows a call down (it
// sleeps on the simulated clock), or crashes a pass at that await (it never resolves).

/** One port call: which port and method, and whether it writes anything. */
export interface PortCall {
  readonly port: 'state' | 'lease' | 'events' | 'mirror' | 'adapters';
  readonly method: string;
  readonly writes: boolean;
}

export interface CallHook {
  /** Runs `effect` (once, or not at all if the call fails or the caller crashes before it). */
  around<T>(call: PortCall, effect: () => T): Promise<T>;
}

/** No interleaving, no faults: every call takes effect at once. */
export const immediate: CallHook = {
  around: async <T>(_call: PortCall, effect: () => T) => effect(),
};
