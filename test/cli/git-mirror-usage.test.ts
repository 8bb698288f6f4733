import { describe, expect, it } from 'vitest';
import { cli, expectGolden } from '../helpers/cli.ts';

// Command lines git-mirror refuses before it reads a cache or talks to a cluster: exit 2, naming the
// flag and what would be right. None of these needs a cluster, an upstream or a mirror.

describe('git-mirror usage errors (exit 2, nothing done)', () => {
  it.each([
    [['sync', '--mirror-dir', 'cache'], '--mirror-dir needs --local'],
    [['status', '--ssh-dir', 'keys'], '--ssh-dir needs --local'],
    [['flush', '--dry-run', '--confirm'], 'choose --dry-run or --confirm, not both'],
    [
      ['sync', '--local', '--confirm', '--wait'],
      '--wait follows a stage Job; with --local the stage runs in this process',
    ],
    [['flush', '--wait'], '--wait follows the Job that --confirm creates: add --confirm'],
    [['sync', '--dry-run', '--wait'], '--wait follows the Job that --confirm creates'],
    [
      ['sync', '--local', '--dry-run', '--mirror', 'nope'],
      '--mirror: no mirror "nope" in config/cicd-branch-followers.yaml (mirrors: hwlab, agentrun, unidesk)',
    ],
    [
      ['status', '--local', '--follower', 'nope'],
      '--follower: no follower "nope" in config/cicd-branch-followers.yaml (followers: hwlab-jd01-v03, ' +
        'agentrun-jd01-v02, web-probe-sentinel-master)',
    ],
    [
      ['flush', '--local', '--dry-run', '--mirror', 'agentrun', '--follower', 'hwlab-jd01-v03'],
      '--follower hwlab-jd01-v03 is followed through mirror "hwlab", not --mirror agentrun',
    ],
  ])('git-mirror %j', async (argv, message) => {
    const r = await cli(['git-mirror', ...argv]);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toContain(`error: ${message}`);
  });

  it.each([
    [['status', '--confirm'], "unknown option '--confirm'"],
    [['sync', '--follower', 'hwlab-jd01-v03'], "unknown option '--follower'"],
  ])('commander refuses flags a stage does not have: %j', async (argv, message) => {
    const r = await cli(['git-mirror', ...argv]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(message);
  });

  it('an invalid registry is exit 2 before anything runs', async () => {
    const r = await cli(['--config', 'nowhere.yaml', 'git-mirror', 'status', '--local']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('nowhere.yaml: cannot read: file not found');
    expect(r.stderr).not.toContain(':0:0');
  });
});

describe('git-mirror --help', () => {
  it('explains each stage with its flags, exit codes and examples', async () => {
    const pages = [];
    for (const stage of ['status', 'sync', 'flush']) {
      const r = await cli(['git-mirror', stage, '--help']);
      expect(r.code).toBe(0);
      expect(r.stdout).toContain('Examples:');
      expect(r.stdout).toContain('Exit codes:');
      expect(r.stdout).toContain('--ssh-dir <dir>');
      pages.push(r.stdout);
    }
    expectGolden('git-mirror-help.txt', pages.join('\n---\n\n'));
  });
});
