/**
 * `completion bash|zsh|fish`: shell completion generated from the command tree
 * itself, so new commands and flags complete without editing the scripts.
 * Rollout names complete from the cluster through the hidden `__complete`
 * command (quietly, with a short timeout, honouring -n/--context/--kubeconfig
 * already typed on the line).
 */
import type { Command, Option } from 'commander';
import { connect, type KubeFlags } from '../kube-flags.ts';

export interface CompletionNode {
  /** command path below the program, e.g. ['get', 'rollout']; aliases are separate nodes */
  path: string[];
  subcommands: string[];
  /** flags that take no value */
  flags: string[];
  /** flags followed by a value */
  valueFlags: string[];
  /** whether its first argument is the name of a Rollout */
  takesRollout: boolean;
}

function optionNames(options: readonly Option[]): { flags: string[]; valueFlags: string[] } {
  const flags: string[] = [];
  const valueFlags: string[] = [];
  for (const o of options) {
    if (o.hidden) continue;
    const names = [o.short, o.long].filter((n): n is string => !!n);
    (o.required || o.optional ? valueFlags : flags).push(...names);
  }
  return { flags, valueFlags };
}

/** Flattens the program into one node per reachable command path (aliases included). */
export function completionTree(program: Command): CompletionNode[] {
  const nodes: CompletionNode[] = [];
  const visit = (cmd: Command, path: string[]) => {
    const visible = cmd.commands.filter((c) => !(c as Command & { _hidden?: boolean })._hidden);
    const { flags, valueFlags } = optionNames(cmd.options);
    const firstArg = cmd.registeredArguments[0]?.name() ?? '';
    nodes.push({
      path,
      subcommands: visible.flatMap((c) => [c.name(), ...c.aliases()]),
      flags: [...flags, '--help', '-h'],
      valueFlags,
      takesRollout: firstArg === 'rollout',
    });
    for (const sub of visible) for (const name of [sub.name(), ...sub.aliases()]) visit(sub, [...path, name]);
  };
  visit(program, []);
  return nodes;
}

const key = (path: string[]) => path.join(' ');

function bash(prog: string, nodes: CompletionNode[]): string {
  const fn = `_${prog.replace(/[^A-Za-z0-9]/g, '_')}_complete`;
  const cases = nodes
    .map(
      (n) =>
        `    "${key(n.path)}") words="${[...n.subcommands, ...n.flags, ...n.valueFlags].join(' ')}"; ` +
        `valueflags=" ${n.valueFlags.join(' ')} "; rollout=${n.takesRollout ? 1 : 0} ;;`,
    )
    .join('\n');
  return `# bash completion for ${prog}; load with: source <(${prog} completion bash)
${fn}() {
  local cur prev path="" i w words valueflags rollout args=() skip=0
  cur="\${COMP_WORDS[COMP_CWORD]}"
  prev="\${COMP_WORDS[COMP_CWORD-1]}"
  # walk the typed words: known subcommands extend the path, flags with a value skip it
  for ((i = 1; i < COMP_CWORD; i++)); do
    w="\${COMP_WORDS[i]}"
    if ((skip)); then skip=0; args+=("$w"); continue; fi
    case "$w" in
      -n|--namespace|--context|--kubeconfig) args+=("$w"); skip=1; continue ;;
      -*) continue ;;
    esac
    if ${fn}_has "\${path:+$path }$w"; then path="\${path:+$path }$w"; else args+=("::$w"); fi
  done
  ${fn}_node "$path"
  if [[ "$valueflags" == *" $prev "* ]]; then
    if [[ "$prev" == "--kubeconfig" ]]; then COMPREPLY=($(compgen -f -- "$cur")); else COMPREPLY=(); fi
    return
  fi
  if [[ "$cur" != -* && "$rollout" == 1 ]] && ! printf '%s\\n' "\${args[@]}" | grep -q '^::'; then
    local kube=() j
    for ((j = 0; j < \${#args[@]}; j++)); do [[ "\${args[j]}" != ::* ]] && kube+=("\${args[j]}"); done
    COMPREPLY=($(compgen -W "$(${prog} __complete rollouts "\${kube[@]}" 2>/dev/null)" -- "$cur"))
    return
  fi
  COMPREPLY=($(compgen -W "$words" -- "$cur"))
}
${fn}_has() {
  case "$1" in
${nodes.map((n) => `    "${key(n.path)}") return 0 ;;`).join('\n')}
  esac
  return 1
}
${fn}_node() {
  words=""; valueflags=" "; rollout=0
  case "$1" in
${cases}
  esac
}
complete -o default -F ${fn} ${prog}
`;
}

function zsh(prog: string, nodes: CompletionNode[]): string {
  // zsh can run bash completion functions; one implementation keeps the two in step
  return `#compdef ${prog}
# zsh completion for ${prog}; load with: source <(${prog} completion zsh)
autoload -U +X bashcompinit && bashcompinit
${bash(prog, nodes).replace(/^# bash completion.*\n/, '')}`;
}

function fishQuote(s: string): string {
  return `'${s.replaceAll("'", "\\'")}'`;
}

function fish(prog: string, nodes: CompletionNode[]): string {
  const lines = [
    `# fish completion for ${prog}; load with: ${prog} completion fish | source`,
    `complete -c ${prog} -f`,
    `set -g __${prog}_paths ${nodes.map((n) => fishQuote(key(n.path))).join(' ')}`,
    `function __${prog}_path`,
    `  set -l words (commandline -opc)`,
    `  set -e words[1]`,
    `  set -l path ''`,
    `  set -l skip 0`,
    `  for w in $words`,
    `    if test $skip = 1`,
    `      set skip 0`,
    `      continue`,
    `    end`,
    `    switch $w`,
    `      case -n --namespace --context --kubeconfig`,
    `        set skip 1`,
    `        continue`,
    `      case '-*'`,
    `        continue`,
    `    end`,
    `    set -l next (string trim -- "$path $w")`,
    `    if contains -- $next $__${prog}_paths`,
    `      set path $next`,
    `    else`,
    `      break`,
    `    end`,
    `  end`,
    `  echo $path`,
    `end`,
    `function __${prog}_at`,
    `  set -l p (__${prog}_path)`,
    `  test "$p" = "$argv"`,
    `end`,
    `function __${prog}_rollouts`,
    `  set -l words (commandline -opc)`,
    `  set -l kube`,
    `  for i in (seq (count $words))`,
    `    if contains -- $words[$i] -n --namespace --context --kubeconfig`,
    `      set kube $kube $words[$i] $words[(math $i + 1)]`,
    `    end`,
    `  end`,
    `  ${prog} __complete rollouts $kube 2>/dev/null`,
    `end`,
  ];
  for (const n of nodes) {
    const cond = `-n '__${prog}_at ${key(n.path)}'`;
    for (const sub of n.subcommands) lines.push(`complete -c ${prog} ${cond} -a ${fishQuote(sub)}`);
    for (const f of [...n.flags, ...n.valueFlags]) {
      const long = f.startsWith('--');
      const value = n.valueFlags.includes(f) ? ' -r' : '';
      lines.push(`complete -c ${prog} ${cond} ${long ? '-l' : '-s'} ${f.replace(/^--?/, '')}${value}`);
    }
    if (n.takesRollout) lines.push(`complete -c ${prog} ${cond} -a '(__${prog}_rollouts)'`);
  }
  return `${lines.join('\n')}\n`;
}

export const SHELLS = ['bash', 'zsh', 'fish'] as const;
export type Shell = (typeof SHELLS)[number];

export function completionScript(shell: Shell, prog: string, nodes: CompletionNode[]): string {
  if (shell === 'bash') return bash(prog, nodes);
  if (shell === 'zsh') return zsh(prog, nodes);
  return fish(prog, nodes);
}

export function registerCompletionCommands(program: Command): void {
  program
    .command('completion')
    .description('print a shell completion script: source <(kanary completion bash), or zsh / fish')
    .argument('<shell>', 'bash, zsh or fish')
    .action((shell: string) => {
      if (!(SHELLS as readonly string[]).includes(shell)) {
        program.error(`error: unsupported shell "${shell}" (use bash, zsh or fish)`, { exitCode: 1 });
      }
      process.stdout.write(completionScript(shell as Shell, program.name(), completionTree(program)));
    });

  program
    .command('__complete', { hidden: true })
    .argument('<what>')
    .option('--kubeconfig <path>')
    .option('--context <name>')
    .option('-n, --namespace <name>')
    .action(async (what: string, o: KubeFlags) => {
      if (what !== 'rollouts') return;
      try {
        const cluster = await connect(o);
        const list = await Promise.race([
          cluster.listRollouts(cluster.namespace),
          new Promise<never>((_, reject) => setTimeout(() => reject(new Error('timeout')), 3000).unref()),
        ]);
        process.stdout.write(list.items.map((r) => `${r.metadata.name}\n`).join(''));
      } catch {
        // completion must never print errors into the user's command line
      }
    });
}
