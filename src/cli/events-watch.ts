import type { KubeClient } from '../../core/kube/client.ts';
import type { ResourceType } from '../../core/kube/resources.ts';
import { watchCollection } from '../../core/kube/watch.ts';
import type { View } from '../../core/output/view.ts';

// `events --watch`: the follower's Events and the state ConfigMaps that may hold its record are
// watched, and on each change the view is read again (one record, one list) and printed if what it
// shows changed. Reads that would overlap are run one after the other, the last change always read.

/** How long changes that come together are gathered into one read. */
const GATHER_MS = 100;

export interface EventsWatch {
  readonly client: KubeClient;
  readonly namespace: string;
  /** What is watched: the Events by the follower's label, the ConfigMaps by name. */
  readonly watched: readonly {
    readonly type: ResourceType;
    readonly labelSelector: string;
    readonly names?: ReadonlySet<string>;
  }[];
  /** Reads the view again. */
  read(): Promise<View>;
  readonly first: View;
  print(view: View): void;
  progress(line: string): void;
  readonly signal: AbortSignal;
}

/** Prints the first view, then every changed one, until the signal aborts. */
export async function watchEvents(w: EventsWatch): Promise<void> {
  const inner = new AbortController();
  const stop = () => inner.abort();
  w.signal.addEventListener('abort', stop);
  let shown = JSON.stringify(w.first.data);
  w.print(w.first);
  let timer: NodeJS.Timeout | undefined;
  let reading: Promise<void> | undefined;
  let again = false;
  let failed: unknown;
  const readAndShow = async () => {
    do {
      again = false;
      const view = await w.read();
      const data = JSON.stringify(view.data);
      if (data !== shown && !inner.signal.aborted) {
        shown = data;
        w.print(view);
      }
    } while (again && !inner.signal.aborted);
  };
  const changed = () => {
    if (inner.signal.aborted || timer !== undefined) return;
    timer = setTimeout(() => {
      timer = undefined;
      if (reading) {
        again = true;
        return;
      }
      reading = readAndShow()
        .catch((err: unknown) => {
          failed = err;
          inner.abort();
        })
        .finally(() => {
          reading = undefined;
        });
    }, GATHER_MS);
  };
  try {
    await Promise.all(
      w.watched.map(({ type, labelSelector, names }) =>
        watchCollection(
          w.client,
          type,
          w.namespace,
          {
            reset: changed,
            change: (_kind, object) => {
              if (!names || names.has(object.metadata.name)) changed();
            },
          },
          { labelSelector, signal: inner.signal, progress: w.progress },
        ).catch((err: unknown) => {
          inner.abort();
          throw err;
        }),
      ),
    );
    await reading;
    if (failed !== undefined) throw failed;
  } finally {
    w.signal.removeEventListener('abort', stop);
    if (timer !== undefined) clearTimeout(timer);
  }
}
