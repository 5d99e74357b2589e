import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, it } from 'node:test';

const KANARY = join(import.meta.dirname, '..', '..', '..', 'bin', 'kanary.js');

/** `kanary controller` with bad flags stops before it talks to any cluster, naming the flag. */
describe('kanary controller: numeric flags are checked before anything starts', () => {
  const cases: [string[], string][] = [
    [['--workers', '0'], 'error: --workers: not a whole number above 0: 0'],
    [['--workers', 'many'], 'error: --workers: not a whole number above 0: many'],
    [['--workers', '2.5'], 'error: --workers: not a whole number above 0: 2.5'],
    [['--analysis-workers', '-1'], 'error: --analysis-workers: not a whole number above 0: -1'],
  ];
  for (const [flags, message] of cases) {
    it(flags.join(' '), () => {
      const res = spawnSync(
        process.execPath,
        [KANARY, 'controller', '--kubeconfig', '/nonexistent', ...flags],
        {
          encoding: 'utf8',
          timeout: 30_000,
        },
      );
      assert.equal(res.status, 1, res.stderr);
      assert.equal(res.stderr.trim(), message);
    });
  }
});
