import { describe, expect, it } from 'vitest';
import { runCli } from '../../src/cli/run.ts';
import { colourFor } from '../../src/cli/output-choice.ts';
import { ROOT } from '../../scripts/world/registry.ts';
import { cli } from '../helpers/cli.ts';

const ESC = '\u001b[';

/** The CLI run in-process with streams that say whether they are a terminal. */
async function onTerminal(argv: string[], env: NodeJS.ProcessEnv, tty: boolean) {
  let stdout = '';
  let stderr = '';
  const code = await runCli(
    argv,
    {
      stdout: { write: (s: string) => (stdout += s), isTTY: tty },
      stderr: { write: (s: string) => (stderr += s), isTTY: tty },
      cwd: ROOT,
      env,
    },
    'branch-follower',
  );
  return { code, stdout, stderr };
}

describe('colour and -o name', () => {
  it('colour only on a terminal, never with NO_COLOR, --no-color or a dumb terminal', () => {
    const tty = { write: () => true, isTTY: true };
    const pipe = { write: () => true };
    expect(colourFor(tty, {}, false)).toBe(true);
    expect(colourFor(pipe, {}, false)).toBe(false);
    expect(colourFor(tty, { NO_COLOR: '1' }, false)).toBe(false);
    // no-color.org: an empty NO_COLOR does not count.
    expect(colourFor(tty, { NO_COLOR: '' }, false)).toBe(true);
    expect(colourFor(tty, {}, true)).toBe(false);
    expect(colourFor(tty, { TERM: 'dumb' }, false)).toBe(false);
  });

  it('an error is labelled in red on a terminal and plain when piped or with --no-color', async () => {
    const argv = ['validate', '--config', 'does-not-exist.yaml'];
    const red = await onTerminal(argv, {}, true);
    expect(red.code).toBe(2);
    expect(red.stderr.startsWith(`${ESC}31merror:${ESC}0m `)).toBe(true);
    for (const plain of [
      await onTerminal(argv, {}, false),
      await onTerminal([...argv, '--no-color'], {}, true),
      await onTerminal(argv, { NO_COLOR: '1' }, true),
    ]) {
      expect(plain.code).toBe(2);
      expect(plain.stderr.startsWith('error: ')).toBe(true);
      expect(plain.stderr).not.toContain(ESC);
    }
  });

  it('-o name is refused, before anything runs, by a verb that lists nothing', async () => {
    const r = await cli(['apply', '--confirm', '-o', 'name', '--kubeconfig', 'does-not-exist']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(
      '-o name lists names, and only status, events, plan, git-mirror status list things; apply does not',
    );
    const v = await cli(['validate', '-o', 'name']);
    expect(v.code).toBe(2);
  });
});
