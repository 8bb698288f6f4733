import { BranchFollowerError } from '../../core/errors.ts';

// One flat object kept in memory with a version that every write bumps: a write that names an older
// version loses, as a PUT with a stale resourceVersion does against the API server (HTTP 409).
// Readers and writers get copies, so nobody changes what is stored behind the store's back.
export class Versioned<T extends object> {
  value: T | undefined;
  version = 0;
  private readonly what: string;

  constructor(what: string, value: T | undefined) {
    this.what = what;
    this.value = value;
  }

  get(): { value: T; version: number } | undefined {
    return this.value === undefined ? undefined : { value: { ...this.value }, version: this.version };
  }

  /** Compare-and-swap: only a writer that read the current version wins. */
  put(version: number, value: T): { value: T; version: number } {
    if (version !== this.version) {
      throw new BranchFollowerError(
        `update ${this.what} failed (conflict): the object has been modified; please apply your changes to the ` +
          `latest version and try again`,
        { reason: 'KubeConflict', retryable: true },
      );
    }
    this.value = { ...value };
    this.version++;
    return { value: { ...value }, version: this.version };
  }

  /** Deletes the object if it is still at `version` (as a DELETE with a resourceVersion precondition). */
  remove(version: number): void {
    if (this.value === undefined) return;
    if (version !== this.version) {
      throw new BranchFollowerError(
        `delete ${this.what} failed (conflict): the object has been modified since it was read`,
        { reason: 'KubeConflict', retryable: true },
      );
    }
    this.value = undefined;
    this.version++;
  }

  /** Another writer (e.g. kubectl) changes the object: every writer that read before now loses its next put. */
  touch(): void {
    this.version++;
  }
}
