import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ROOT } from '../../scripts/world/registry.ts';
import { cli } from '../helpers/cli.ts';
import { makeFixture, removeFixtures } from '../helpers/registry-fixture.ts';

afterAll(removeFixtures);

// The bundle in build/ is what bin/ and the pod run; it carries its own copy of zod (English messages
// only) and yaml. Its answers must be the sources' answers, word for word.
describe('the bundled CLI', () => {
  it('words every registry problem as the sources do', async () => {
    const { root } = makeFixture([
      { from: 'requestTimeoutSeconds: 15', to: 'requestTimeoutSeconds: "15"' },
      { from: 'pullPolicy: IfNotPresent', to: 'pullPolicy: Sometimes' },
      { from: '    renewSeconds: 20\n', to: '    renewSeconds: 20\n    renewSecond: 20\n' },
      { from: '  progress:\n    heartbeatSeconds: 10\n', to: '' },
      { from: 'timeZone: Etc/UTC', to: 'timeZone: Mars/Olympus' },
    ]);
    const sources = await cli(['validate', '-o', 'json'], { cwd: root });
    expect(sources.code).toBe(2);
    let bundled = '';
    try {
      execFileSync(process.execPath, [join(ROOT, 'build/branch-follower.js'), 'validate', '-o', 'json'], {
        cwd: root,
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'ignore'],
      });
    } catch (err) {
      const e = err as { status: number; stdout: string };
      expect(e.status).toBe(2);
      bundled = e.stdout;
    }
    expect(JSON.parse(sources.stdout).problems.length).toBeGreaterThanOrEqual(5);
    expect(bundled).toBe(sources.stdout);
  });
});
