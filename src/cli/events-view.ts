import type { StateRecord } from '../../runner/read.ts';
import { kubectlName } from '../../core/kube/resources.ts';
import { ageOf } from '../../core/output/age.ts';
import { shortSha } from '../../core/output/sha.ts';
import type { View } from '../../core/output/view.ts';

// What `events` prints, from what it read: pure, so the tables and -o wide are pinned by golden files.

/** A Kubernetes Event as events reads it. */
export interface EventObject {
  eventTime?: string;
  metadata: { name: string; creationTimestamp?: string };
  type?: string;
  reason?: string;
  action?: string;
  note?: string;
  reportingInstance?: string;
}

const eventTime = (e: EventObject) => e.eventTime ?? e.metadata.creationTimestamp ?? '';

/** One row of the Kubernetes Events table. */
function toEventRow(e: EventObject, now: number): string[] {
  const at = eventTime(e);
  return [at || '-', ageOf(at, now), e.type ?? '-', e.action ?? '-', e.reason ?? '-', e.note ?? ''];
}

/** The follower's history and Events, oldest first (the time is RFC 3339, so text order is time order). */
export function eventsView(
  follower: string,
  record: StateRecord | undefined,
  events: readonly EventObject[],
  now: number,
): View {
  const sorted = [...events].sort((a, b) => (eventTime(a) < eventTime(b) ? -1 : eventTime(a) > eventTime(b) ? 1 : 0));
  const history = record?.history ?? [];
  return {
    data: { follower, history, events: sorted },
    names: sorted.map((e) => kubectlName('Event', e.metadata.name)),
    human: [
      { line: `history of ${follower} (state record, newest last)` },
      history.length === 0
        ? { line: '  (none: not observed yet)' }
        : {
            table: {
              headers: ['time', 'age', 'from', 'to', 'sha', 'reason', 'detail'],
              wideOnly: ['time'],
              shrink: 'detail',
              rows: history.map((t) => [
                t.at,
                ageOf(t.at, now),
                t.from ?? '-',
                t.to,
                shortSha(t.sha),
                t.reason,
                t.detail,
              ]),
            },
          },
      { line: '' },
      { line: `Kubernetes Events of ${follower} (expire after an hour)` },
      sorted.length === 0
        ? { line: '  (none)' }
        : {
            table: {
              headers: ['time', 'age', 'type', 'phase', 'reason', 'note'],
              wideOnly: ['time'],
              shrink: 'note',
              tones: { type: (t) => (t === 'Warning' ? 'bad' : undefined) },
              rows: sorted.map((e) => toEventRow(e, now)),
            },
          },
      { next: [`branch-follower logs --follower ${follower}`, 'branch-follower status'] },
    ],
  };
}
