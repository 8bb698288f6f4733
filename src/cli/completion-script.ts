// Shell completion scripts for the verbs and their options, written from the program's own tree, so
// they cannot drift from it: `branch-follower completion bash|zsh|fish`.

/** A verb (or the program) as completion sees it. */
export interface CompletionNode {
  readonly name: string;
  readonly summary: string;
  /** Every flag it takes, long and short (`--watch`, `-w`). */
  readonly flags: readonly string[];
  readonly verbs: readonly CompletionNode[];
}

export const SHELLS = ['bash', 'zsh', 'fish'] as const;
export type Shell = (typeof SHELLS)[number];

const fnName = (program: string) => `_${program.replace(/[^A-Za-z0-9]/g, '_')}_complete`;
const shQuote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

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
  for (const f of root.flags) lines.push(`complete -c ${root.name} ${flag(f)}`);
  const walk = (node: CompletionNode, path: readonly string[]) => {
    const under = path.length === 0 ? '__fish_use_subcommand' : `__fish_seen_subcommand_from ${path[path.length - 1]}`;
    for (const v of node.verbs)
      lines.push(`complete -c ${root.name} -f -n ${shQuote(under)} -a ${v.name} -d ${shQuote(v.summary)}`);
    if (path.length > 0)
      for (const f of node.flags) lines.push(`complete -c ${root.name} -n ${shQuote(under)} ${flag(f)}`);
    for (const v of node.verbs) walk(v, [...path, v.name]);
  };
  walk(root, []);
  return `${lines.join('\n')}\n`;
}

export function completionScript(shell: Shell, root: CompletionNode): string {
  return shell === 'bash' ? bash(root) : shell === 'zsh' ? zsh(root) : fish(root);
}
