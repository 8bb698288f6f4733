import { resolve } from 'node:path';
import type { Command } from 'commander';
import { manifestFileName, renderManifest } from '../../core/kube/render.ts';
import { replaceDir, type WrittenFile } from '../../synth/write-dist.ts';
import type { View } from '../../core/output/view.ts';
import type { VerbContext } from './verb.ts';

function synthView(
  outDir: string,
  written: readonly WrittenFile[],
  kinds: ReadonlyMap<string, string>,
  raw: string,
): View {
  const changed = written.filter((w) => w.change !== 'unchanged').length;
  return {
    data: { outDir, files: written },
    raw,
    human: [
      {
        line:
          changed === 0
            ? `${outDir}/: ${written.length} files, all unchanged`
            : `${outDir}/: ${written.length} files, ${changed} changed`,
      },
      {
        table: {
          headers: ['file', 'kind', 'bytes', 'change'],
          rows: written.map((w) => [w.file, kinds.get(w.file) ?? '-', String(w.bytes), w.change]),
        },
      },
      { next: [`git diff -- ${outDir}`, 'branch-follower plan'] },
    ],
  };
}

// Writes the synthesized controller into dist/, one file per object, byte-stable.
export function registerSynth(program: Command, ctx: VerbContext): void {
  program
    .command('synth')
    .summary('write the synthesized controller manifests into dist/')
    .description(
      'Synthesize the controller (Namespace, ServiceAccount, Role, RoleBinding, registry and state ' +
        'ConfigMaps, Lease, CronJob) from the registry and write one file per object. The same registry ' +
        'gives byte-identical files on every run and machine; the directory is replaced as a whole, so ' +
        'files of objects no longer synthesized are removed. Nothing is written if the registry is invalid.',
    )
    .option('--out <dir>', 'directory to write, relative to the working directory', 'dist')
    .addHelpText(
      'after',
      '\nExamples:\n  branch-follower synth\n  branch-follower synth --out /tmp/manifests -o json\n',
    )
    .action(async (opts: { out: string }) => {
      const { loadRegistry } = await import('../../core/config/load.ts');
      const { synthesize } = await import('../../synth/manifests.ts');
      const loaded = loadRegistry(ctx.globals().config, ctx.io.cwd);
      const manifests = synthesize(loaded);
      const files = new Map(manifests.map((m) => [manifestFileName(m), renderManifest(m)]));
      const kinds = new Map(manifests.map((m) => [manifestFileName(m), m.kind]));
      const written = replaceDir(resolve(ctx.io.cwd, opts.out), files);
      ctx.print(synthView(opts.out, written, kinds, [...files.values()].join('---\n')));
    });
}
