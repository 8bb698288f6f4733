import { KubeError } from '../errors.ts';
import type { KubeClient, KubeObject } from './client.ts';
import type { ResourceType } from './resources.ts';

// A Kubernetes watch that lasts until it is stopped, as client-go's reflector keeps one: list, then
// watch from the list's resourceVersion; when the server ends a watch (its timeoutSeconds), watch on
// from the last version seen (bookmarks included); when that version has expired (410 Gone, as a
// status or an ERROR event), list again; when the API server cannot be reached, try again with the
// route's backoff (controller.kubeRoute.retry), saying so. Nothing is missed: a re-list hands over the
// whole collection. One watch request lasts controller.kubeRoute.requestTimeoutSeconds: the server
// then ends it and it is resumed, so a connection that died silently is found within that time.

/** What a watch tells its caller. */
export interface WatchHandlers {
  /** The whole collection, as listed: first, and again after the watch expired. */
  reset(items: readonly KubeObject[]): void;
  change(kind: 'ADDED' | 'MODIFIED' | 'DELETED', object: KubeObject): void;
}

export interface WatchOptions {
  readonly labelSelector: string;
  /** Ends the watch: the promise resolves. */
  readonly signal: AbortSignal;
  /** One line per expiry and per reconnect, for people. */
  readonly progress: (line: string) => void;
  /** Where the first watch starts instead of a fresh list (a version known to be expired, in tests). */
  readonly startAt?: string;
}

interface WatchEvent {
  readonly type: 'ADDED' | 'MODIFIED' | 'DELETED' | 'BOOKMARK' | 'ERROR';
  readonly object: KubeObject & { code?: number; message?: string };
}

/** Waits `ms`, or less when the signal aborts. */
function pause(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const done = () => {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener('abort', done);
  });
}

/** Watches one collection until the signal aborts; rejects only on an error a retry cannot help. */
export async function watchCollection(
  client: KubeClient,
  type: ResourceType,
  namespace: string | undefined,
  handlers: WatchHandlers,
  opts: WatchOptions,
): Promise<void> {
  const { signal } = opts;
  let version = opts.startAt;
  const { initialBackoffMs, maxBackoffMs } = client.route.retry;
  const timeoutSeconds = Math.max(1, Math.round(client.route.requestTimeoutMs / 1000));
  let backoff = initialBackoffMs;
  const what = `${type.plural}${namespace ? ` in namespace ${namespace}` : ''}`;
  const retryLater = async (err: unknown) => {
    if (!(err instanceof KubeError) || !err.retryable) throw err;
    opts.progress(`watch ${what}: ${err.message}; trying again in ${(backoff / 1000).toFixed(1)}s`);
    await pause(backoff, signal);
    backoff = Math.min(backoff * 2, maxBackoffMs);
  };
  while (!signal.aborted) {
    if (version === undefined) {
      try {
        const listed = await client.listAt(type, namespace, opts.labelSelector);
        version = listed.resourceVersion;
        handlers.reset(listed.items);
      } catch (err) {
        await retryLater(err);
        continue;
      }
    }
    let expired = false;
    let broken = false;
    try {
      const answer = await client.watchOnce(
        type,
        namespace,
        { labelSelector: opts.labelSelector, resourceVersion: version, timeoutSeconds },
        (line) => {
          let event: WatchEvent;
          try {
            event = JSON.parse(line) as WatchEvent;
          } catch {
            broken = true;
            return;
          }
          if (event.type === 'ERROR') {
            if (event.object.code === 410) expired = true;
            else broken = true;
            return;
          }
          version = event.object.metadata.resourceVersion ?? version;
          if (event.type === 'BOOKMARK') return;
          handlers.change(event.type, { ...event.object, apiVersion: type.apiVersion, kind: type.kind });
        },
        signal,
      );
      if (answer.status === 410) expired = true;
      else if (answer.status !== 200) throw client.watchFailure(type, namespace, answer);
      backoff = initialBackoffMs;
    } catch (err) {
      await retryLater(err);
      continue;
    }
    if (expired) {
      opts.progress(`watch ${what}: resourceVersion ${version} expired (410 Gone); listing again`);
      version = undefined;
    } else if (broken) {
      opts.progress(`watch ${what}: the server ended the watch with an error; watching again from ${version}`);
      await pause(backoff, signal);
    }
  }
}
