import { describe, expect, it } from 'vitest';
import { cli } from '../helpers/cli.ts';

// Every verb that takes `--follower <id>` refuses an unknown id the same way, before it talks to a
// cluster (the kubeconfig named here does not exist): exit 2, the flag, the id, and the declared ones.

const SHA = 'a'.repeat(40);
const DECLARED = 'followers: hwlab-jd01-v03, agentrun-jd01-v02, web-probe-sentinel-master';

describe('--follower naming no declared follower (exit 2, nothing done)', () => {
  it.each([
    [['run-once', '--follower', 'nope', '--dry-run']],
    [['run-once', '--follower', 'nope', '--confirm', '--expect-sha', SHA]],
    [['status', '--follower', 'nope', '--expect-sha', SHA]],
    [['git-mirror', 'status', '--local', '--follower', 'nope']],
  ])('%j', async (argv) => {
    const r = await cli(['--kubeconfig', 'no-such-kubeconfig', ...argv]);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toContain(
      `error: --follower: no follower "nope" in config/cicd-branch-followers.yaml (${DECLARED})`,
    );
  });
});
