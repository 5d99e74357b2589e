/**
 * The dependency direction of src/ (README "Layout"): api ← rollout ← traffic
 * ← client ← controller/dataplane/dashboard ← cli (client: what the CLI and the
 * dashboard share: the rollout actions and view model); kube is a library that imports no
 * command code; cluster is test infrastructure. Each rule names the import
 * that breaks it.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { describe, it } from 'node:test';

const srcDir = resolve(import.meta.dirname, '..', '..', '..', 'src');

interface Import {
  /** the importing file, relative to src/ ("kube/config.ts") */
  from: string;
  /** the imported file, relative to src/ ("cli/errors.ts") */
  to: string;
  line: number;
}

function tsFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile() && e.name.endsWith('.ts'))
    .map((e) => join(e.parentPath, e.name))
    .sort();
}

// `from '…'` (import/export … from), bare `import '…'`, and `import('…')`
const SPECIFIER = /(?:\bfrom\s*|\bimport\s*\(?\s*)['"]([^'"]+)['"]/g;

/** The relative imports of a source text (packages and node: builtins are not ours). */
function importsOf(file: string, text: string): Import[] {
  const out: Import[] = [];
  text.split('\n').forEach((lineText, i) => {
    for (const m of lineText.matchAll(SPECIFIER)) {
      const spec = m[1] ?? '';
      if (!spec.startsWith('.')) continue;
      const to = relative(srcDir, resolve(dirname(file), spec))
        .split(sep)
        .join('/');
      out.push({ from: relative(srcDir, file).split(sep).join('/'), to, line: i + 1 });
    }
  });
  return out;
}

const topOf = (path: string) => path.split('/')[0] ?? '';
const show = (i: Import) => `src/${i.from}:${i.line} imports src/${i.to}`;

interface Rule {
  name: string;
  /** true when the import breaks the rule */
  breaks: (i: Import) => boolean;
}

const RULES: Rule[] = [
  {
    name: 'src/kube imports nothing from cli, cluster, controller or dataplane',
    breaks: (i) =>
      topOf(i.from) === 'kube' && ['cli', 'cluster', 'controller', 'dataplane'].includes(topOf(i.to)),
  },
  {
    // traffic implements the planner's router interface (src/rollout/router.ts); the planner is given routers
    name: 'src/rollout does not import src/traffic (traffic depends on rollout, not both ways)',
    breaks: (i) => topOf(i.from) === 'rollout' && topOf(i.to) === 'traffic',
  },
  {
    // the CLI and the dashboard share the rollout actions and view model there; neither may be below it
    name: 'src/client imports nothing from cli, dashboard, controller, dataplane or cluster',
    breaks: (i) =>
      topOf(i.from) === 'client' &&
      ['cli', 'dashboard', 'controller', 'dataplane', 'cluster'].includes(topOf(i.to)),
  },
  {
    name: 'src/dashboard imports nothing from cli (cli starts the dashboard, not the other way)',
    breaks: (i) => topOf(i.from) === 'dashboard' && topOf(i.to) === 'cli',
  },
  {
    name: 'src/api imports only src/api',
    breaks: (i) => topOf(i.from) === 'api' && topOf(i.to) !== 'api',
  },
];

/** Every import that breaks a rule, as "rule: file:line imports target". */
function violations(imports: Import[], rules: Rule[] = RULES): string[] {
  return rules.flatMap((rule) => imports.filter(rule.breaks).map((i) => `${rule.name}: ${show(i)}`));
}

describe('dependency direction of src/', () => {
  const imports = tsFiles(srcDir).flatMap((f) => importsOf(f, readFileSync(f, 'utf8')));

  it('reads the imports of src/ (the rules below check something)', () => {
    assert.ok(imports.length > 100, `only ${imports.length} relative imports found under ${srcDir}`);
    assert.ok(
      imports.some((i) => i.from === 'controller/rollout-controller.ts' && i.to === 'rollout/plan.ts'),
    );
  });

  for (const rule of RULES) {
    it(rule.name, () => assert.deepEqual(violations(imports, [rule]), []));
  }

  it('names the offending import', () => {
    const file = join(srcDir, 'kube', 'example.ts');
    const found = violations(
      importsOf(
        file,
        [
          "import { UserError } from '../cli/errors.ts';",
          "import type { Rollout } from '../api/types.ts';",
          "const m = await import('../cluster/paths.ts');",
        ].join('\n'),
      ),
    );
    assert.deepEqual(found, [
      'src/kube imports nothing from cli, cluster, controller or dataplane: src/kube/example.ts:1 imports src/cli/errors.ts',
      'src/kube imports nothing from cli, cluster, controller or dataplane: src/kube/example.ts:3 imports src/cluster/paths.ts',
    ]);
  });
});
