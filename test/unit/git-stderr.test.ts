import { describe, expect, it } from 'vitest';
import { stderrSummary } from '../../core/git/stderr.ts';

describe('stderrSummary', () => {
  it('names the transport line before git gives up, and drops the generic advice after it', () => {
    const stderr =
      'Host key verification failed.\nfatal: Could not read from remote repository.\n\nPlease make sure you have the ' +
      'correct access rights\nand the repository exists.\n';
    expect(stderrSummary(stderr)).toBe('Host key verification failed: fatal: Could not read from remote repository');
  });

  it('completes a fatal line that ends in a colon with the line after it', () => {
    const stderr = 'fatal: unable to connect to 127.0.0.1:\n127.0.0.1[0: 127.0.0.1]: errno=Connection refused\n';
    expect(stderrSummary(stderr)).toBe(
      'fatal: unable to connect to 127.0.0.1: 127.0.0.1[0: 127.0.0.1]: errno=Connection refused',
    );
  });

  it('takes the first fatal line, and no hint or warning as its cause', () => {
    expect(
      stderrSummary(
        "fatal: '/x' does not appear to be a git repository\nfatal: Could not read from remote repository.\n",
      ),
    ).toBe("fatal: '/x' does not appear to be a git repository");
    expect(stderrSummary('hint: use --force\nerror: failed to push some refs\n')).toBe(
      'error: failed to push some refs',
    );
  });

  it('without a fatal or error line is the last line, and nothing when git wrote nothing', () => {
    expect(stderrSummary('remote: counting\nsomething went wrong.\n')).toBe('something went wrong');
    expect(stderrSummary('\n  \n')).toBeUndefined();
  });
});
