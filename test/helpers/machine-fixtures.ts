// Small fixtures for the example tests of the pure state machine.

export const T0 = Date.parse('2025-01-01T00:00:00.000Z');
export const iso = (ms: number): string => new Date(ms).toISOString();

export const snapshotRefOf = (sha: string): string => `refs/unidesk/snapshots/demo/main/${sha}`;

/** Freezes a value all the way down: a step that mutated its `prev` argument would throw. */
export function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value as Record<string, unknown>)) deepFreeze(v);
  }
  return value;
}
