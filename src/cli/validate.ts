import type { Command } from 'commander';
import type { LoadedRegistry } from '../../core/config/load.ts';
import { ConfigError, type ConfigIssue } from '../../core/errors.ts';
import type { View } from '../../core/output/view.ts';
import { ExitCode } from './exit-codes.ts';
import { outputFormat } from './global-options.ts';
import type { VerbContext } from './verb.ts';

/** One problem as `-o json|yaml` prints it. */
const toProblem = (i: ConfigIssue) => ({
  file: i.file,
  path: i.path,
  line: i.line,
  column: i.column,
  message: i.message,
  value: i.value ?? null,
});

// An invalid registry asked for as data: every problem on stdout, the count on stderr, exit 2. In a
// table the problems are the error itself, on stderr, as for every other verb.
function problemsView(file: string, err: ConfigError): View {
  return { data: { ok: false, valid: false, file, problems: err.issues.map(toProblem) }, human: [] };
}

/** One validate row: a follower and where its target and budget come from. */
function toValidateRow(loaded: LoadedRegistry, index: number): string[] {
  const f = loaded.registry.followers[index]!;
  const selector = Object.entries(f.target.selector)
    .map(([k, v]) => `${k}=${String(v)}`)
    .join(',');
  return [
    f.id,
    f.enabled ? 'yes' : 'no',
    f.adapter,
    `${f.source.repo}@${f.source.branch}`,
    f.source.mirror,
    `${f.target.configRef}#${f.target.collection}{${selector}}`,
    `${f.closeout.budgetSeconds}s (followers[${index}].closeout.budgetSeconds)`,
  ];
}

function validateView(loaded: LoadedRegistry): View {
  const r = loaded.registry;
  return {
    data: {
      ok: true,
      valid: true,
      problems: [],
      file: loaded.file,
      followers: r.followers.map((f) => ({ ...f, resolvedTarget: loaded.targets.get(f.id) })),
      adapters: r.adapters.map((a) => a.id),
      mirrors: r.mirrors.map((m) => m.id),
    },
    raw: loaded.text,
    human: [
      {
        line:
          `${loaded.file}: valid (${r.followers.length} followers, ${r.adapters.length} adapters, ` +
          `${r.mirrors.length} mirrors)`,
      },
      {
        table: {
          headers: ['follower', 'enabled', 'adapter', 'source', 'mirror', 'target', 'budget'],
          rows: r.followers.map((_, i) => toValidateRow(loaded, i)),
        },
      },
      { next: ['branch-follower synth', 'branch-follower plan'] },
    ],
  };
}

// Checks the registry and every owning file it references; prints every problem at once.
export function registerValidate(program: Command, ctx: VerbContext): void {
  program
    .command('validate')
    .summary('check the registry and the owning files it references')
    .description(
      'Check the registry and the owning files it references: schema (unknown keys, missing fields, ' +
        'types), unique ids, adapter and mirror references, configRef files and selectors, command ' +
        'placeholders and budgets. Every problem is printed with its YAML path, file:line:column and the ' +
        'bad value (never one that may be a secret). With -o json or -o yaml the result is ' +
        '{ok, problems: [{file, path, line, column, message, value}]} on stdout. Reads only; exit code 2 ' +
        'when anything is wrong.',
    )
    .addHelpText(
      'after',
      '\nExamples:\n  branch-follower validate\n  branch-follower validate --config other/registry.yaml -o json\n',
    )
    .action(async () => {
      const { loadRegistry } = await import('../../core/config/load.ts');
      const g = ctx.globals();
      try {
        ctx.print(validateView(loadRegistry(g.config, ctx.io.cwd)));
      } catch (err) {
        const format = outputFormat(g);
        if (!(err instanceof ConfigError) || (format !== 'json' && format !== 'yaml')) throw err;
        ctx.print(problemsView(g.config, err));
        const n = err.issues.length;
        ctx.progress(`error: invalid configuration: ${n} problem${n === 1 ? '' : 's'} (listed on stdout)`);
        ctx.setExitCode(ExitCode.InvalidInput);
      }
    });
}
