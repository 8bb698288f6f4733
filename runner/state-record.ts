import { z } from 'zod';

// One follower's record in the state ConfigMap (one data key per follower id, JSON), as far as
// `status` reads it. The reconcile pass writes it; unknown fields are kept so that an older CLI can
// still show what it understands of a newer record.

export const PHASES = ['Observed', 'Noop', 'PendingTrigger', 'Triggering', 'ClosingOut', 'Succeeded', 'Failed', 'Superseded'] as const;

const sha = z.string().regex(/^[0-9a-f]{7,64}$/);

export const StateRecordSchema = z.looseObject({
  observedSha: sha.nullable(),
  targetSha: sha.nullable(),
  lastTriggeredSha: sha.nullable(),
  lastSucceededSha: sha.nullable(),
  phase: z.enum(PHASES),
  reason: z.string(),
  inFlight: z
    .looseObject({
      sha,
      runName: z.string().nullable(),
      deadline: z.string(),
    })
    .nullable(),
  updatedAt: z.string(),
});

export type StateRecord = z.infer<typeof StateRecordSchema>;

/** A record, or why it cannot be read; never throws. */
export function parseStateRecord(text: string): { record: StateRecord } | { error: string } {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return { error: 'not JSON' };
  }
  const parsed = StateRecordSchema.safeParse(json);
  if (!parsed.success) {
    const first = parsed.error.issues[0];
    return { error: `${first?.path.join('.') || 'record'}: ${first?.message ?? 'invalid'}` };
  }
  return { record: parsed.data };
}
