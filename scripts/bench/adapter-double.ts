import { chmodSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

// A double of the UniDesk control-plane CLIs for the bench: a POSIX sh script, so that a call costs
// what the pass spends on it (a spawn) plus `delaySeconds`, not the start of another Node. Its state
// lives in `stateDir`, one file set per lane (the generated registry gives every follower its own
// lane): `<lane>.target` the sha the control plane targets (and runs), `<lane>.run` its newest run,
// `<lane>.publish` the mirror repository and GitOps ref a succeeded run publishes into. A trigger
// starts a run that has succeeded at once and publishes one GitOps commit (child of the ref's tip) into
// the mirror, as the real control planes do; closeout then flushes it upstream. Each trigger is a line of
// triggers.log: lane, sha and the run's name, which ends in the time it was received (ns since the epoch). The double's own git
// is named by absolute path, so the pass's counting PATH never counts it.

/** The verbs of the three CLIs (hwlab, agentrun, web-probe), by their last word. */
const STATUS_WORD = 'status';
const TRIGGER_WORDS = ['trigger-current', 'publish-current'];
/** git's empty tree: every repository has it without writing it. */
const EMPTY_TREE = '4b825dc642cb6eb9a060e54bf8d69288fbee4904';

function script(stateDir: string, delaySeconds: number, git: string): string {
  return `#!/bin/sh
state='${stateDir}'
${delaySeconds > 0 ? `sleep ${delaySeconds}\n` : ''}verb= lane= ref=
while [ $# -gt 0 ]; do
  case $1 in
    --lane) lane=$2; shift ;;
    --snapshot-ref) ref=$2; shift ;;
    ${STATUS_WORD}) verb=status ;;
    ${TRIGGER_WORDS.join('|')}) verb=trigger ;;
  esac
  shift
done
[ -n "$lane" ] && [ -n "$verb" ] || { echo "bench double: no --lane or verb" >&2; exit 2; }
if [ "$verb" = status ]; then
  target=null run=null
  if [ -f "$state/$lane.target" ]; then read -r t < "$state/$lane.target"; target="\\"$t\\""; fi
  if [ -f "$state/$lane.run" ]; then
    read -r name sha < "$state/$lane.run"
    run="{\\"name\\":\\"$name\\",\\"sha\\":\\"$sha\\",\\"phase\\":\\"Succeeded\\"}"
  fi
  echo "{\\"targetSha\\":$target,\\"deployedSha\\":$target,\\"run\\":$run,\\"mirror\\":{\\"pendingFlush\\":false,\\"githubInSync\\":true}}"
  exit 0
fi
sha=\${ref##*/}
name="bench-$lane-$(date +%s%N)"
read -r gitdir gitops < "$state/$lane.publish"
export HOME="$state" GIT_CONFIG_NOSYSTEM=1 GIT_AUTHOR_NAME=bench GIT_AUTHOR_EMAIL=bench@bench.invalid
export GIT_COMMITTER_NAME=bench GIT_COMMITTER_EMAIL=bench@bench.invalid
parent=$('${git}' --git-dir "$gitdir" rev-parse -q --verify "$gitops") || parent=
commit=$('${git}' --git-dir "$gitdir" commit-tree ${EMPTY_TREE} \${parent:+-p "$parent"} -m "publish $name $sha") || exit 1
'${git}' --git-dir "$gitdir" update-ref "$gitops" "$commit" || exit 1
echo "$sha" > "$state/$lane.target"
echo "$name $sha" > "$state/$lane.run"
echo "$lane $sha $name" >> "$state/triggers.log"
echo "{\\"run\\":{\\"name\\":\\"$name\\",\\"sha\\":\\"$sha\\"}}"
`;
}

export interface AdapterDouble {
  /** An executable for every CLI name that answers after `delaySeconds` (0: at once); all share one state. */
  program(delaySeconds: number): string;
  readonly stateDir: string;
  /** The control plane of `lane` targets (and has deployed) `sha`, with no run of its own. */
  target(lane: string, sha: string): void;
  /** Triggers received so far, over every lane. */
  triggers(): number;
  /** Every trigger received so far, in order, with when (epoch ms). */
  triggerLog(): { lane: string; sha: string; atMs: number }[];
  /** Where a succeeded run of `lane` publishes its GitOps commit. */
  publishTo(lane: string, gitDir: string, ref: string): void;
}

/** A double under `dir`, using `git` (an absolute path) for its own commits. */
export function adapterDouble(dir: string, git: string): AdapterDouble {
  const stateDir = join(dir, 'state');
  mkdirSync(stateDir, { recursive: true });
  return {
    program(delaySeconds) {
      const program = join(dir, `control-plane-${delaySeconds * 1000}ms`);
      writeFileSync(program, script(stateDir, delaySeconds, git));
      chmodSync(program, 0o755);
      return program;
    },
    stateDir,
    target(lane, sha) {
      writeFileSync(join(stateDir, `${lane}.target`), `${sha}\n`);
      rmSync(join(stateDir, `${lane}.run`), { force: true });
    },
    triggers() {
      const log = join(stateDir, 'triggers.log');
      return existsSync(log)
        ? readFileSync(log, 'utf8')
            .split('\n')
            .filter((l) => l !== '').length
        : 0;
    },
    triggerLog() {
      const log = join(stateDir, 'triggers.log');
      if (!existsSync(log)) return [];
      return readFileSync(log, 'utf8')
        .split('\n')
        .filter((l) => l !== '')
        .map((l) => {
          const [lane, sha, name] = l.split(' ') as [string, string, string];
          return { lane, sha, atMs: Number(BigInt(name.slice(name.lastIndexOf('-') + 1)) / 1_000_000n) };
        });
    },
    publishTo(lane, gitDir, ref) {
      writeFileSync(join(stateDir, `${lane}.publish`), `${gitDir} ${ref}\n`);
    },
  };
}
