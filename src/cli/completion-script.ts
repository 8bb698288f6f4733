// Shell completion scripts for the verbs and their options, written from the program's own tree, so
// they cannot drift from it: `branch-follower completion bash|zsh|fish`.

/** A verb (or the program) as completion sees it. */
export interface CompletionNode {
  readonly name: string;
  readonly summary: string;
  /** Every flag it takes, long and short (`--watch`, `-w`). */
  readonly flags: readonly string[];
  /** The values a flag takes, for the flags that have a fixed set (`-o`: table, wide, …). */
  readonly values: Readonly<Record<string, readonly string[]>>;
  readonly verbs: readonly CompletionNode[];
}

/** Every flag's values, over the whole tree. */
function allValues(root: CompletionNode): Map<string, readonly string[]> {
  const out = new Map<string, readonly string[]>();
  const walk = (node: CompletionNode) => {
    for (const [flag, values] of Object.entries(node.values)) out.set(flag, values);
    node.verbs.forEach(walk);
  };
  walk(root);
  return out;
}

export const SHELLS = ['bash', 'zsh', 'fish'] as const;
export type Shell = (typeof SHELLS)[number];

const fnName = (program: string) => `_${program.replace(/[^A-Za-z0-9]/g, '_')}_complete`;
const shQuote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

function valueCases(root: CompletionNode): string {
  const byValues = new Map<string, string[]>();
  for (const [flag, values] of allValues(root)) {
    const key = values.join(' ');
    byValues.set(key, [...(byValues.get(key) ?? []), flag]);
  }
  return [...byValues]
    .map(
      ([values, flags]) =>
        `    ${flags.map(shQuote).join(' | ')}) COMPREPLY=($(compgen -W ${shQuote(values)} -- "$cur")); return ;;`,
    )
    .join('\n');
}

// bash (and zsh through bashcompinit): the words after the verbs typed so far are that verb's verbs
// and flags, with the program's own (global) flags everywhere.
function bash(root: CompletionNode): string {
  const words = new Map<string, string>();
  const walk = (node: CompletionNode, path: string) => {
    words.set(path, [...new Set([...node.verbs.map((v) => v.name), ...node.flags, ...root.flags])].join(' '));
    for (const v of node.verbs) walk(v, path === '' ? v.name : `${path} ${v.name}`);
  };
  walk(root, '');
  const verbPaths = [...words.keys()].filter((p) => p !== '');
  const fn = fnName(root.name);
  return `# bash completion for ${root.name}: source <(${root.name} completion bash)
${fn}() {
  local cur=\${COMP_WORDS[COMP_CWORD]} path='' i w words
  # After a flag that takes one of a few values, those values.
  case "\${COMP_WORDS[COMP_CWORD-1]}" in
${valueCases(root)}
  esac
  # The verbs typed so far: the words that are not flags, as far as they name verbs.
  for ((i = 1; i < COMP_CWORD; i++)); do
    w=\${COMP_WORDS[i]}
    case "$w" in -*) continue ;; esac
    case "\${path:+$path }$w" in
      ${verbPaths.map(shQuote).join(' | ')}) path="\${path:+$path }$w" ;;
    esac
  done
  case "$path" in
${[...words].map(([path, w]) => `    ${shQuote(path)}) words=${shQuote(w)} ;;`).join('\n')}
    *) words='' ;;
  esac
  COMPREPLY=($(compgen -W "$words" -- "$cur"))
}
complete -F ${fn} ${root.name}
`;
}

function zsh(root: CompletionNode): string {
  return `#compdef ${root.name}
# zsh completion for ${root.name}: source <(${root.name} completion zsh)
autoload -U +X bashcompinit && bashcompinit
${bash(root).split('\n').slice(1).join('\n')}`;
}

function fish(root: CompletionNode): string {
  const lines = [`# fish completion for ${root.name}: ${root.name} completion fish | source`];
  const flag = (f: string) => (f.startsWith('--') ? `-l ${f.slice(2)}` : `-s ${f.slice(1)}`);
  const values = allValues(root);
  const takes = (f: string) => (values.has(f) ? ` -x -a ${shQuote(values.get(f)!.join(' '))}` : '');
  for (const f of root.flags) lines.push(`complete -c ${root.name} ${flag(f)}${takes(f)}`);
  const walk = (node: CompletionNode, path: readonly string[]) => {
    const under = path.length === 0 ? '__fish_use_subcommand' : `__fish_seen_subcommand_from ${path[path.length - 1]}`;
    for (const v of node.verbs)
      lines.push(`complete -c ${root.name} -f -n ${shQuote(under)} -a ${v.name} -d ${shQuote(v.summary)}`);
    if (path.length > 0)
      for (const f of node.flags) lines.push(`complete -c ${root.name} -n ${shQuote(under)} ${flag(f)}${takes(f)}`);
    for (const v of node.verbs) walk(v, [...path, v.name]);
  };
  walk(root, []);
  return `${lines.join('\n')}\n`;
}

export function completionScript(shell: Shell, root: CompletionNode): string {
  return shell === 'bash' ? bash(root) : shell === 'zsh' ? zsh(root) : fish(root);
}
