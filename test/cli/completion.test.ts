import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { cli } from '../helpers/cli.ts';

const dir = mkdtempSync(join(tmpdir(), 'bf-completion-'));

/** What bash completes for the words typed so far (the last one being completed). */
function complete(script: string, words: string[]): string[] {
  const file = join(dir, 'complete.bash');
  writeFileSync(file, script);
  const fn = /complete -F (\S+) /.exec(script)![1]!;
  const out = execFileSync(
    'bash',
    [
      '-c',
      `source "$0"; COMP_WORDS=(${words.map((w) => `'${w}'`).join(' ')}); COMP_CWORD=${words.length - 1}; ` +
        `${fn}; printf '%s\\n' "\${COMPREPLY[@]}"`,
      file,
    ],
    { encoding: 'utf8' },
  );
  return out.split('\n').filter(Boolean);
}

describe('completion', () => {
  it('bash: the script loads, and completes verbs, nested verbs and each verb’s flags', async () => {
    const r = await cli(['completion', 'bash']);
    expect(r.code).toBe(0);
    execFileSync('bash', ['-n'], { input: r.stdout });
    expect(complete(r.stdout, ['branch-follower', 'sta'])).toEqual(['status']);
    expect(complete(r.stdout, ['branch-follower', 'git-mirror', 'fl'])).toEqual(['flush']);
    expect(complete(r.stdout, ['branch-follower', '--config', 'x.yaml', 'run-once', '--sh'])).toEqual(['--shard']);
    expect(complete(r.stdout, ['branch-follower', 'status', '--kubec'])).toEqual(['--kubeconfig']);
    // A verb's own flags are offered under it only.
    expect(complete(r.stdout, ['branch-follower', 'status', '--sh'])).toEqual([]);
    // After -o, its values, as kubectl completes them.
    expect(complete(r.stdout, ['branch-follower', 'status', '-o', 'w'])).toEqual(['wide']);
    expect(complete(r.stdout, ['branch-follower', 'status', '--output', ''])).toEqual([
      'table',
      'wide',
      'name',
      'json',
      'yaml',
    ]);
  });

  it('zsh loads the same completion through bashcompinit; fish names every verb with its summary', async () => {
    const zsh = await cli(['completion', 'zsh']);
    expect(zsh.stdout.split('\n')[0]).toBe('#compdef branch-follower');
    expect(zsh.stdout).toContain('bashcompinit');
    execFileSync('bash', ['-n'], { input: zsh.stdout });
    const fish = await cli(['completion', 'fish']);
    expect(fish.stdout).toContain(
      "complete -c branch-follower -f -n '__fish_use_subcommand' -a status -d 'show the controller, the state ConfigMap and every follower'",
    );
    expect(fish.stdout).toContain("complete -c branch-follower -n '__fish_seen_subcommand_from run-once' -l shard");
  });

  it('under cicd it completes `cicd branch-follower …`; an unknown shell is a usage error', async () => {
    const r = await cli(['branch-follower', 'completion', 'bash'], { entry: 'cicd' });
    expect(r.stdout).toMatch(/complete -F \S+ cicd\n/);
    expect(complete(r.stdout, ['cicd', 'branch-follower', 'val'])).toEqual(['validate']);
    const bad = await cli(['completion', 'tcsh']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('completion "tcsh": the shell must be one of bash, zsh, fish');
  });
});
