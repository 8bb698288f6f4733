import type { LoadedRegistry } from '../core/config/load.ts';
import { redactSecrets, redactStrings, type SecretLiterals } from './adapters/redact.ts';
import { scrubError } from './adapters/scrub-error.ts';
import { runPass, type PassOptions, type PassResult } from './pass.ts';
import type { PassPorts } from './ports.ts';

// The pass with the redaction policy at every edge it has, so nothing it records or prints holds a
// secret whatever path a string took inside it: every state record it writes, every Event, every
// progress line, its result (what the CLI prints, in any format) and the error it ends with all go
// through the one policy, with the literal values of the mounted Secret keys added. What comes in
// (adapter and mirror answers) is redacted where it is read, before any tail is cut.

/** The ports, with every record written to the state and every Event redacted on the way out. */
function redactedPorts(ports: PassPorts, literals: SecretLiterals): PassPorts {
  return {
    ...ports,
    state: {
      read: () => ports.state.read(),
      write: (snap, updates) => ports.state.write(snap, redactStrings(updates, literals)),
    },
    events: {
      emit: (id, transitions, instance) => ports.events.emit(id, redactStrings(transitions, literals), instance),
    },
  };
}

/** runPass, redacted at its edges: see the file comment. */
export async function runRedactedPass(
  ports: PassPorts,
  loaded: LoadedRegistry,
  opts: PassOptions,
  literals: SecretLiterals,
): Promise<PassResult> {
  try {
    const result = await runPass(redactedPorts(ports, literals), loaded, {
      ...opts,
      progress: (line) => opts.progress(redactSecrets(line, literals)),
    });
    return redactStrings(result, literals);
  } catch (err) {
    if (err !== null && typeof err === 'object') scrubError(err, literals);
    throw err;
  }
}
