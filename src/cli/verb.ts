import type { CliIo } from './io.ts';
import type { GlobalOptions } from './global-options.ts';
import type { View } from '../../core/output/view.ts';

// What every verb gets from the program: the IO it may use, the global options, and the printer.
export interface VerbContext {
  readonly io: CliIo;
  globals(): GlobalOptions;
  print(view: View): void;
  /** Progress for people, on stderr, so stdout stays the data. */
  progress(line: string): void;
  /** Ends the command with this code without an error (`plan` with changes: 1). */
  setExitCode(code: number): void;
}
