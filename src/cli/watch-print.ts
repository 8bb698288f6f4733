import type { View } from '../../core/output/view.ts';
import { outputFormat } from './global-options.ts';
import type { VerbContext } from './verb.ts';

/** How a watch prints view after view: a YAML document marker, or an empty line, between two. */
export function watchPrinter(ctx: VerbContext): (view: View) => void {
  let printed = 0;
  return (view) => {
    if (printed++ > 0) ctx.io.stdout.write(outputFormat(ctx.globals()) === 'yaml' ? '---\n' : '\n');
    ctx.print(view);
  };
}
