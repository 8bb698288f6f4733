import type { KubeClient, KubeObject } from '../../core/kube/client.ts';
import { watchCollection } from '../../core/kube/watch.ts';
import type { View } from '../../core/output/view.ts';
import type { StatusRead, WantedObject } from './status-state.ts';

// `status --watch`: the objects status read, kept up to date by one watch per kind (CronJob, Lease,
// ConfigMap) in the controller's namespace, and the view printed again whenever what it shows
// changed. Events that come together (a pass writes a Lease and a state object at once) are printed
// as one change.

/** How long changes that come together are gathered into one reprint. */
const GATHER_MS = 100;

export interface StatusWatch {
  readonly client: KubeClient;
  readonly namespace: string;
  readonly wanted: readonly WantedObject[];
  readonly first: StatusRead;
  /** The view of what was read (its data decides whether anything changed). */
  view(read: StatusRead): View;
  print(view: View): void;
  progress(line: string): void;
  readonly signal: AbortSignal;
}

/** Prints the first view, then every changed one, until the signal aborts. */
export async function watchStatus(w: StatusWatch): Promise<void> {
  const objects: (KubeObject | undefined)[] = [...w.first.objects];
  const at = new Map(w.wanted.map((o, i) => [`${o.type.kind}/${o.name}`, i]));
  // One watch that fails for good (forbidden, say) stops the others: the verb ends with its error.
  const inner = new AbortController();
  const stop = () => inner.abort();
  w.signal.addEventListener('abort', stop);
  let shown = '';
  let timer: NodeJS.Timeout | undefined;
  const show = () => {
    timer = undefined;
    const view = w.view({ ...w.first, objects });
    const data = JSON.stringify(view.data);
    if (data === shown) return;
    shown = data;
    w.print(view);
  };
  show();
  const changed = () => {
    if (timer === undefined && !inner.signal.aborted) timer = setTimeout(show, GATHER_MS);
  };
  const types = [...new Map(w.wanted.map((o) => [o.type.kind, o.type])).values()];
  try {
    await Promise.all(
      types.map((type) =>
        watchCollection(
          w.client,
          type,
          w.namespace,
          {
            reset: (items) => {
              const byName = new Map(items.map((o) => [o.metadata.name, o]));
              w.wanted.forEach((o, i) => {
                if (o.type === type) objects[i] = byName.get(o.name);
              });
              changed();
            },
            change: (kind, object) => {
              const i = at.get(`${type.kind}/${object.metadata.name}`);
              if (i === undefined) return;
              objects[i] = kind === 'DELETED' ? undefined : object;
              changed();
            },
          },
          { labelSelector: '', signal: inner.signal, progress: w.progress },
        ).catch((err: unknown) => {
          inner.abort();
          throw err;
        }),
      ),
    );
  } finally {
    w.signal.removeEventListener('abort', stop);
    if (timer !== undefined) clearTimeout(timer);
  }
}
