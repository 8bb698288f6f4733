import { describe, expect, it } from 'vitest';
import { emptyRecord, parseStateRecord, StateRecordSchema } from '../../runner/state-record.ts';

// parseStateRecord reads every record of status and of a pass: a valid record comes back as the schema
// reads it (unknown fields of a newer version kept), and a record the schema refuses is named by the
// schema's first issue, word for word.

const valid = {
  ...emptyRecord('2026-01-01T00:00:00.000Z'),
  observedSha: 'a'.repeat(40),
  triggered: ['a'.repeat(40)],
  fieldOfANewerVersion: { kept: true },
};

/** What the schema itself says of `json`, as parseStateRecord words it. */
function schemaSays(json: unknown): string {
  const parsed = StateRecordSchema.safeParse(json);
  if (parsed.success) return 'valid';
  const first = parsed.error.issues[0];
  return `${first?.path.join('.') || 'record'}: ${first?.message ?? 'invalid'}`;
}

describe('parseStateRecord', () => {
  it('reads a valid record as the schema does, unknown fields kept', () => {
    const got = parseStateRecord(JSON.stringify(valid));
    expect(got).toEqual({ record: StateRecordSchema.parse(valid) });
    expect(got).toEqual({ record: valid });
  });

  it('names a refused record by the first issue the schema finds', () => {
    const refused = [
      { ...valid, phase: 'NoSuchPhase' },
      { ...valid, observedSha: 'not-a-sha' },
      { ...valid, triggered: ['a'.repeat(40), 7] },
      { ...valid, adapterTail: null },
      { observedSha: null },
      [],
    ];
    for (const json of refused) {
      const said = schemaSays(json);
      expect(said).not.toBe('valid');
      expect(parseStateRecord(JSON.stringify(json))).toEqual({ error: said });
    }
    expect(parseStateRecord('{')).toEqual({ error: 'not JSON' });
  });
});
