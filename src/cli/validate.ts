import type { Command } from 'commander';
import type { LoadedRegistry } from '../../core/config/load.ts';
import type { View } from '../../core/output/view.ts';
import type { VerbContext } from './verb.ts';

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
      valid: true,
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
        'placeholders and budgets. Every problem is printed with its YAML path and file:line:column. ' +
        'Reads only; exit code 2 when anything is wrong.',
    )
    .addHelpText(
      'after',
      '\nExamples:\n  branch-follower validate\n  branch-follower validate --config other/registry.yaml -o json\n',
    )
    .action(async () => {
      const { loadRegistry } = await import('../../core/config/load.ts');
      ctx.print(validateView(loadRegistry(ctx.globals().config, ctx.io.cwd)));
    });
}
