import { describe, expect, it } from 'vitest';
import { formatConfigIssue } from '../../core/errors.ts';
import { shownValue } from '../../core/config/issue-value.ts';

describe('the bad value an issue names', () => {
  it('quotes a scalar as JSON and cuts it at 80 characters', () => {
    expect(shownValue(['followers', 0, 'id'], 'Bad_ID')).toBe('"Bad_ID"');
    expect(shownValue(['a'], 42)).toBe('42');
    expect(shownValue(['a'], false)).toBe('false');
    expect(shownValue(['a'], null)).toBe('null');
    const long = shownValue(['a'], 'x'.repeat(200))!;
    expect(long).toHaveLength(80);
    expect(long).toMatch(/^"x+…"$/);
  });

  it('shows no mapping or list, and nothing that may be a secret', () => {
    expect(shownValue(['a'], { b: 1 })).toBeUndefined();
    expect(shownValue(['a'], [1])).toBeUndefined();
    expect(shownValue(['a'], undefined)).toBeUndefined();
    for (const key of ['token', 'githubToken', 'password', 'clientSecret', 'privateKey', 'apiKey', 'auth'])
      expect(shownValue(['controller', key], 'plain-looking')).toBeUndefined();
    expect(shownValue(['x'], '-----BEGIN OPENSSH PRIVATE KEY-----')).toBeUndefined();
    expect(shownValue(['x'], 'ghp_0123456789abcdef0123456789abcdef0123')).toBeUndefined();
    // A Secret reference names its key, which is not a secret.
    expect(shownValue(['controller', 'source', 'githubSsh', 'identity', 'key'], 'identity')).toBe('"identity"');
  });

  it('is printed after the message, once, and a file without a position is named alone', () => {
    const at = { file: 'r.yaml', path: 'followers[0].id', line: 3, column: 9 };
    expect(formatConfigIssue({ ...at, message: 'must be a DNS-1123 label', value: '"Bad_ID"' })).toBe(
      'r.yaml:3:9: followers[0].id: must be a DNS-1123 label (got "Bad_ID")',
    );
    expect(formatConfigIssue({ ...at, message: 'duplicate id "a"', value: '"a"' })).toBe(
      'r.yaml:3:9: followers[0].id: duplicate id "a"',
    );
    expect(
      formatConfigIssue({
        file: 'gone.yaml',
        path: '(file)',
        line: 0,
        column: 0,
        message: 'cannot read: file not found',
      }),
    ).toBe('gone.yaml: cannot read: file not found');
  });
});
