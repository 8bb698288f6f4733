import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { cli, expectGolden } from '../helpers/cli.ts';
import { makeFixture } from '../helpers/registry-fixture.ts';
import { ROOT } from '../../scripts/world/registry.ts';
import { removeFixtures } from '../helpers/registry-fixture.ts';

afterAll(removeFixtures);

/** Every verb of the product specification's CLI section, plus validate. */
const SPEC_VERBS = [
  'validate',
  'synth',
  'plan',
  'apply',
  'status',
  'run-once',
  'events',
  'logs',
  'cleanup-state',
  'git-mirror',
];

describe('the CLI program', () => {
  it('--help lists every verb and explains exit codes', async () => {
    const r = await cli(['--help']);
    expect(r.code).toBe(0);
    for (const verb of SPEC_VERBS) expect(r.stdout).toMatch(new RegExp(`^  ${verb}\\b`, 'm'));
    expect(r.stdout).toContain('Exit codes:');
    expectGolden('help.txt', r.stdout);
  });

  it('git-mirror --help lists status, sync and flush', async () => {
    const r = await cli(['git-mirror', '--help']);
    expect(r.code).toBe(0);
    for (const stage of ['status', 'sync', 'flush']) expect(r.stdout).toMatch(new RegExp(`^  ${stage}\\b`, 'm'));
  });

  it('answers the same verbs under `cicd branch-follower`', async () => {
    const direct = await cli(['validate']);
    const nested = await cli(['branch-follower', 'validate'], { entry: 'cicd' });
    expect(nested).toEqual(direct);
    const usage = ['git-mirror', 'sync', '--mirror-dir', 'cache'];
    expect(await cli(['branch-follower', ...usage], { entry: 'cicd' })).toEqual(await cli(usage));
    expect((await cli(['--help'], { entry: 'cicd' })).stdout).toMatch(/^ {2}branch-follower\b/m);
  });

  it('rejects an unknown verb, an unknown flag and a missing required flag with exit 2', async () => {
    expect((await cli(['deploy'])).code).toBe(2);
    expect((await cli(['validate', '--frobnicate'])).code).toBe(2);
    const missing = await cli(['events']);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain("required option '--follower <id>' not specified");
  });

  it('runs as an installed bin on Node 22 (npx branch-follower)', () => {
    const out = execFileSync('npx', ['--no-install', 'branch-follower', '--version'], { cwd: ROOT, encoding: 'utf8' });
    expect(out.trim()).toMatch(/^\d+\.\d+\.\d+$/);
  });
});

describe('validate', () => {
  it('prints the follower table and drill-downs for the shipped registry', async () => {
    const r = await cli(['validate']);
    expect(r.code).toBe(0);
    expect(r.stderr).toBe('');
    expectGolden('validate.txt', r.stdout);
  });

  it('-o json and -o yaml give the same structured data', async () => {
    const json = JSON.parse((await cli(['validate', '-o', 'json'])).stdout);
    const yaml = parseYaml((await cli(['validate', '-o', 'yaml'])).stdout);
    expect(json).toEqual(yaml);
    expect(json.valid).toBe(true);
    expect(json.followers.map((f: { id: string }) => f.id)).toEqual([
      'hwlab-jd01-v03',
      'agentrun-jd01-v02',
      'web-probe-sentinel-master',
    ]);
    expect(json.followers[0].resolvedTarget).toMatchObject({ node: 'JD01', lane: 'v03' });
    expect(JSON.parse((await cli(['validate', '--json'])).stdout)).toEqual(json);
  });

  it('--raw prints the registry file as it is', async () => {
    const r = await cli(['validate', '--raw']);
    expect(r.stdout).toMatch(/^# branch-follower registry/);
    expect(r.stdout).toContain('kind: BranchFollowerRegistry');
  });

  it('refuses two different output formats at once', async () => {
    const r = await cli(['validate', '--json', '-o', 'yaml']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('choose one output format, not -o yaml and --json');
    expect((await cli(['validate', '-o', 'xml'])).code).toBe(2);
  });

  it('prints every problem with file:line:column and YAML path to stderr, exit 2', async () => {
    const { root } = makeFixture([
      { from: 'budgetSeconds: 120', to: 'budgetSeconds: 0' },
      { from: '    timeZone: Etc/UTC', to: '    timezone: Etc/UTC' },
    ]);
    const r = await cli(['validate'], { cwd: root });
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(/^error: invalid configuration: 3 problems$/m);
    expect(r.stderr).toMatch(
      /config\/cicd-branch-followers\.yaml:\d+:5: controller\.cronJob\.timeZone: required field is missing/,
    );
    expect(r.stderr).toMatch(
      /config\/cicd-branch-followers\.yaml:\d+:5: controller\.cronJob\.timezone: unknown field "timezone"/,
    );
    expect(r.stderr).toMatch(
      /config\/cicd-branch-followers\.yaml:\d+:22: followers\[0\]\.closeout\.budgetSeconds: .*greater than 0/,
    );
  });

  it('-o json and -o yaml print every problem on stdout with its value, and exit 2', async () => {
    const { root } = makeFixture([
      { from: '  - id: hwlab-jd01-v03\n', to: '  - id: Bad_ID\n' },
      { from: '    suspend: false\n', to: '    suspend: false\n    suspend: true\n' },
    ]);
    for (const format of ['json', 'yaml'] as const) {
      const r = await cli(['validate', '-o', format], { cwd: root });
      expect(r.code).toBe(2);
      const out = (format === 'json' ? JSON.parse(r.stdout) : parseYaml(r.stdout)) as {
        ok: boolean;
        problems: { path: string; line: number; column: number; message: string; value: string | null }[];
      };
      expect(out.ok).toBe(false);
      // A duplicate key is a syntax error: it is the one problem, named by its key.
      expect(out.problems).toEqual([
        expect.objectContaining({
          path: '(syntax)',
          message: 'duplicate key "suspend": a key may appear once in a mapping',
          value: null,
        }),
      ]);
      expect(r.stderr).toBe('error: invalid configuration: 1 problem (listed on stdout)\n');
    }
    const { root: badId } = makeFixture([{ from: '  - id: hwlab-jd01-v03\n', to: '  - id: Bad_ID\n' }]);
    const r = await cli(['validate', '-o', 'json'], { cwd: badId });
    expect(r.code).toBe(2);
    const problems = JSON.parse(r.stdout).problems as { path: string; value: string | null; line: number }[];
    expect(problems).toContainEqual(expect.objectContaining({ path: 'followers[0].id', value: '"Bad_ID"' }));
    expect(problems.every((p) => p.line > 0)).toBe(true);
    // In a table the problems are the error, on stderr, with the value after the message.
    const table = await cli(['validate'], { cwd: badId });
    expect([table.code, table.stdout]).toEqual([2, '']);
    expect(table.stderr).toMatch(/followers\[0\]\.id: .*\(got "Bad_ID"\)/);
  });

  it('names a missing registry file', async () => {
    const r = await cli(['validate', '--config', 'nowhere.yaml']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('nowhere.yaml: cannot read: file not found');
    expect(r.stderr).not.toContain(':0:0');
    const json = await cli(['validate', '--config', 'nowhere.yaml', '-o', 'json']);
    expect(json.code).toBe(2);
    expect(JSON.parse(json.stdout)).toMatchObject({
      ok: false,
      problems: [{ file: 'nowhere.yaml', line: 0, column: 0, message: 'cannot read: file not found', value: null }],
    });
  });
});

describe('the help of every verb', () => {
  const VERBS = ['validate', 'synth', 'plan', 'apply', 'status', 'run-once', 'reconcile', 'events', 'logs'];
  it('shows the global options, as kubectl does, under both entries', async () => {
    for (const verb of [...VERBS, 'cleanup-state', 'git-mirror', 'git-mirror sync']) {
      const r = await cli([...verb.split(' '), '--help']);
      expect(r.code, verb).toBe(0);
      expect(r.stdout, verb).toMatch(/^Global Options:$/m);
      for (const flag of ['--config <file>', '--kubeconfig <file>', '--context <name>', '-o, --output <format>'])
        expect(r.stdout, `${verb}: ${flag}`).toContain(flag);
    }
    const cicd = await cli(['branch-follower', 'status', '--help'], { entry: 'cicd' });
    expect(cicd.stdout).toMatch(/^Global Options:$/m);
    expect(cicd.stdout).toContain('--kubeconfig <file>');
  });
});

describe('-n/--namespace', () => {
  it('is refused, before anything runs, by every verb it does not apply to', async () => {
    for (const argv of [
      ['apply', '--confirm'],
      ['run-once', '--all', '--dry-run'],
      ['validate'],
      ['git-mirror', 'sync'],
    ]) {
      const r = await cli(['-n', 'other', ...argv]);
      expect(r.code, argv.join(' ')).toBe(2);
      expect(r.stderr).toContain(
        `-n/--namespace "other" applies only to status, events, logs; ${argv[0] === 'git-mirror' ? 'git-mirror sync' : argv[0]} ` +
          "always uses the registry's controller.namespace",
      );
      expect(r.stdout).toBe('');
    }
  });
});

describe('synth', () => {
  it('writes nothing when the registry is invalid', async () => {
    const { root } = makeFixture([{ from: 'kind: BranchFollowerRegistry', to: 'kind: Registry' }]);
    const out = join(mkdtempSync(join(tmpdir(), 'bf-synth-')), 'dist');
    const r = await cli(['synth', '--out', out], { cwd: root });
    expect(r.code).toBe(2);
    expect(existsSync(out)).toBe(false);
  });

  it('reports created files, then all unchanged on a second run', async () => {
    const out = join(mkdtempSync(join(tmpdir(), 'bf-synth-')), 'dist');
    const first = await cli(['synth', '--out', out, '-o', 'json']);
    expect(JSON.parse(first.stdout).files.every((f: { change: string }) => f.change === 'created')).toBe(true);
    const second = await cli(['synth', '--out', out]);
    expect(second.stdout).toMatch(/: 9 files, all unchanged/);
  });
});
