import { z } from 'zod';
import { Phase } from './phases.ts';

// One follower's record in the state ConfigMap: one data key per follower id, its value this JSON
// (readable with `kubectl get cm -o yaml`). Unknown fields are kept on read, so an older CLI can
// still show what it understands of a newer record.

const PHASES = Object.values(Phase) as [Phase, ...Phase[]];

const sha = z.string().regex(/^[0-9a-f]{40}$/);
const time = z.string();

const InFlightSchema = z.looseObject({
  sha,
  snapshotRef: z.string(),
  /** 1 for the first trigger of this sha, up to retry.maxAttempts. */
  attempt: z.number().int().positive(),
  /** The control plane's run, once the trigger (or the adapter's status) named it. */
  runName: z.string().nullable(),
  /** When the write-ahead record was written: the budget counts from here. */
  startedAt: time,
  /** When the latest send was claimed; an unconfirmed send is repeated only a grace period after it. */
  sentAt: time,
  triggeredAt: time.nullable(),
  /** startedAt + closeout.budgetSeconds. */
  deadline: time,
  /** When the run was first seen finished, and when the mirror was first seen flushed and in sync. */
  runDoneAt: time.nullable(),
  flushedAt: time.nullable(),
});

const TransitionSchema = z.looseObject({
  at: time,
  from: z.enum(PHASES).nullable(),
  to: z.enum(PHASES),
  sha: sha.nullable(),
  reason: z.string(),
  /** What happened, in words (e.g. "superseded by <sha>"). */
  detail: z.string(),
});

const TimingsSchema = z.looseObject({
  sha,
  /** First observation of the sha to its trigger. */
  observeToTriggerMs: z.number().nullable(),
  /** Trigger to the run finishing. */
  triggerToRunDoneMs: z.number().nullable(),
  /** The run finishing to the mirror flushed and in sync. */
  runDoneToFlushedMs: z.number().nullable(),
  budgetMs: z.number(),
});

export const StateRecordSchema = z.looseObject({
  observedSha: sha.nullable(),
  /** When observedSha was first seen (for observe→trigger timing). */
  observedAt: time.nullable(),
  targetSha: sha.nullable(),
  lastTriggeredSha: sha.nullable(),
  lastSucceededSha: sha.nullable(),
  phase: z.enum(PHASES),
  reason: z.string(),
  message: z.string(),
  inFlight: InFlightSchema.nullable(),
  /** Attempts of the newest triggered sha, for the retry budget. */
  attempts: z
    .looseObject({
      sha,
      count: z.number().int().nonnegative(),
      /** When the current attempt's write-ahead was written (absent in records of older versions). */
      startedAt: time.nullable().optional(),
      lastFailedAt: time.nullable(),
      /** The run of the last failed attempt, never to be taken for a later attempt's run. */
      lastRunName: z.string().nullable(),
      /** Every run of this sha seen before the current attempt (bounded): none of them is its run. */
      earlierRuns: z.array(z.string()),
    })
    .nullable(),
  /** Every sha ever triggered (bounded, newest last): a sha here is never triggered again. */
  triggered: z.array(sha),
  history: z.array(TransitionSchema),
  timings: TimingsSchema.nullable(),
  /** Redacted tails of the last adapter outputs, for `logs`. */
  adapterTail: z.looseObject({ status: z.string(), trigger: z.string() }),
  updatedAt: time,
});

export type StateRecord = z.infer<typeof StateRecordSchema>;
export type Transition = z.infer<typeof TransitionSchema>;

/** The record of a follower never observed before. */
export function emptyRecord(now: string): StateRecord {
  return {
    observedSha: null,
    observedAt: null,
    targetSha: null,
    lastTriggeredSha: null,
    lastSucceededSha: null,
    phase: Phase.Observed,
    reason: '',
    message: '',
    inFlight: null,
    attempts: null,
    triggered: [],
    history: [],
    timings: null,
    adapterTail: { status: '', trigger: '' },
    updatedAt: now,
  };
}

// Compiled by zod at the first record read: a generated parser for a record that is valid (status and
// a pass read up to every follower's), the schema itself for one that is not, so a record is refused
// with the same words as before.
let compiled: typeof StateRecordSchema | undefined;
const recordSchema = () => (compiled ??= z.compile(StateRecordSchema));

/** A record, or why it cannot be read; never throws. */
export function parseStateRecord(text: string): { record: StateRecord } | { error: string } {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return { error: 'not JSON' };
  }
  const parsed = recordSchema().safeParse(json);
  if (!parsed.success) {
    const first = parsed.error.issues[0];
    return { error: `${first?.path.join('.') || 'record'}: ${first?.message ?? 'invalid'}` };
  }
  return { record: parsed.data };
}
