/**
 * `npm test`: unit tests, then everything that needs the local cluster, in one
 * `node --test` run (so one summary). The global setup brings the shared local
 * cluster up once (building it on the very first run).
 *
 *   node scripts/test.ts              # all tests
 *   node scripts/test.ts --unit       # only tests that need no cluster
 *   node scripts/test.ts test/unit/x.test.ts ...   # chosen files
 */
import { spawnSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';

const root = join(import.meta.dirname, '..');

function find(dir: string): string[] {
  let out: string[] = [];
  let entries: string[];
  try {
    entries = readdirSync(dir);
  } catch {
    return out;
  }
  for (const e of entries.sort()) {
    const p = join(dir, e);
    if (statSync(p).isDirectory()) out = out.concat(find(p));
    else if (e.endsWith('.test.ts')) out.push(relative(root, p));
  }
  return out;
}

const args = process.argv.slice(2);
const unitOnly = args.includes('--unit');
const chosen = args.filter((a) => !a.startsWith('--'));
const testFiles = chosen.length
  ? chosen
  : find(join(root, 'test', 'unit')).concat(unitOnly ? [] : find(join(root, 'test', 'integration')));
const needsCluster = testFiles.some((f) => !f.startsWith(join('test', 'unit')));

const nodeArgs = [
  '--test',
  '--test-reporter=spec',
  `--test-concurrency=${process.env.KANARY_TEST_CONCURRENCY ?? 3}`,
  `--test-timeout=${15 * 60_000}`,
  ...(needsCluster ? ['--test-global-setup=test/support/global-setup.ts'] : []),
  ...testFiles,
];
const res = spawnSync(process.execPath, nodeArgs, { cwd: root, stdio: 'inherit' });
process.exit(res.status ?? 1);
