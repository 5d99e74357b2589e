import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { completionScript, completionTree } from '../../../src/cli/commands/completion.ts';
import { buildProgram } from '../../../src/cli/main.ts';

const program = buildProgram();
const tree = completionTree(program);

/** Runs the bash completion function for a command line (cursor at its end) and returns the candidates. */
function bashComplete(line: string): string[] {
  const words = line.split(' ');
  const script = `${completionScript('bash', 'kanary', tree)}
COMP_WORDS=(${words.map((w) => `'${w}'`).join(' ')})
COMP_CWORD=${words.length - 1}
_kanary_complete
printf '%s\\n' "\${COMPREPLY[@]}"
`;
  // a stub kanary on PATH answers the rollout-name lookups, and says what it was asked (commas for spaces)
  const stubDir = mkdtempSync(join(tmpdir(), 'kanary-completion-'));
  writeFileSync(join(stubDir, 'kanary'), '#!/bin/sh\necho web\necho "asked:$(echo "$@" | tr " " ,)"\n', {
    mode: 0o755,
  });
  const res = spawnSync('bash', ['-c', script], {
    encoding: 'utf8',
    env: { ...process.env, PATH: `${stubDir}:${process.env.PATH}` },
  });
  rmSync(stubDir, { recursive: true, force: true });
  assert.equal(res.stderr, '');
  return res.stdout.split('\n').filter(Boolean).sort();
}

describe('completion', () => {
  it('knows every rollout command, their aliases and flags', () => {
    const root = tree.find((n) => n.path.length === 0);
    assert.ok(root);
    for (const c of [
      'get',
      'list',
      'promote',
      'abort',
      'retry',
      'pause',
      'restart',
      'undo',
      'set',
      'status',
      'completion',
    ]) {
      assert.ok(root.subcommands.includes(c), c);
    }
    assert.ok(!root.subcommands.includes('__complete'), 'hidden commands stay hidden');
    const getRollout = tree.find((n) => n.path.join(' ') === 'get ro');
    assert.ok(getRollout?.takesRollout);
    assert.ok(getRollout.flags.includes('--watch'));
    assert.ok(getRollout.valueFlags.includes('--namespace'));
  });

  it('bash: completes commands, subcommands and flags', () => {
    assert.deepEqual(bashComplete('kanary pro'), ['promote']);
    assert.deepEqual(bashComplete('kanary get r'), ['ro', 'rollout', 'rollouts']);
    assert.deepEqual(bashComplete('kanary promote --fu'), ['--full']);
    assert.deepEqual(bashComplete('kanary list rollouts --all'), ['--all-namespaces']);
  });

  it('bash: completes rollout names from the cluster, passing -n along', () => {
    assert.deepEqual(bashComplete('kanary promote -n shop '), ['asked:__complete,rollouts,-n,shop', 'web']);
    assert.deepEqual(bashComplete('kanary get rollout w'), ['web']);
    // after the name, only flags are left to offer
    const afterName = bashComplete('kanary promote web ');
    assert.ok(afterName.includes('--full'));
    assert.ok(
      afterName.every((w) => w.startsWith('-')),
      afterName.join(' '),
    );
  });

  it('zsh and fish scripts are generated from the same tree', () => {
    const zsh = completionScript('zsh', 'kanary', tree);
    assert.match(zsh, /^#compdef kanary\n/);
    assert.match(zsh, /bashcompinit/);
    const fish = completionScript('fish', 'kanary', tree);
    assert.match(fish, /complete -c kanary -n '__kanary_at promote' -l full\n/);
    assert.match(fish, /complete -c kanary -n '__kanary_at get rollout' -a '\(__kanary_rollouts\)'/);
    assert.match(fish, /complete -c kanary -n '__kanary_at ' -a 'promote'/);
    const bash = completionScript('bash', 'kanary', tree);
    assert.equal(spawnSync('bash', ['-n'], { input: bash }).status, 0, 'bash script parses');
  });
});
