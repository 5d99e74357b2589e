import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { escapeModulePath, upstreamModuleDir, upstreamPath } from '../../support/upstream.ts';

const HELPER = join(import.meta.dirname, '..', '..', 'support', 'upstream.ts');

/** Runs `code` (with the helper imported as `u`) in a fresh Node with the given environment. */
function runWith(env: NodeJS.ProcessEnv, code: string) {
  const script = `import * as u from ${JSON.stringify(HELPER)}; try { ${code} } catch (e) { console.error(e.message); process.exit(3); }`;
  return spawnSync(process.execPath, ['--input-type=module', '-e', script], { env, encoding: 'utf8' });
}

describe('upstream test data from the Go module cache', () => {
  it('escapes module paths as GOMODCACHE spells them', () => {
    assert.equal(escapeModulePath('github.com/BurntSushi/toml'), 'github.com/!burnt!sushi/toml');
    assert.equal(escapeModulePath('github.com/argoproj/argo-cd/v3'), 'github.com/argoproj/argo-cd/v3');
  });

  it('finds files of both pinned modules', () => {
    assert.ok(existsSync(upstreamPath('argo-rollouts', 'manifests/crds/rollout-crd.yaml')));
    assert.ok(existsSync(upstreamPath('argo-cd', 'resource_customizations/argoproj.io/Rollout/health.lua')));
    assert.match(upstreamModuleDir('argo-rollouts'), /argo-rollouts@v1\.10\.2$/);
  });

  it('names the module and version when a file is missing', () => {
    assert.throws(
      () => upstreamPath('argo-rollouts', 'test/e2e/functional/no-such-file.yaml'),
      /test\/e2e\/functional\/no-such-file\.yaml does not exist in github\.com\/argoproj\/argo-rollouts@v1\.10\.2/,
    );
  });

  it('says Go is needed when it is not on PATH', () => {
    const res = runWith({ ...process.env, PATH: '/nonexistent' }, "u.upstreamModuleDir('argo-cd')");
    assert.equal(res.status, 3, res.stderr);
    assert.match(res.stderr, /needs Go .*go not found on PATH/);
  });

  it('says the module proxy is needed when the module is not cached and cannot be fetched', (t) => {
    const empty = mkdtempSync(join(tmpdir(), 'kanary-modcache-'));
    t.after(() => rmSync(empty, { recursive: true, force: true }));
    const res = runWith(
      { ...process.env, GOMODCACHE: empty, GOPROXY: 'off' },
      "u.upstreamModuleDir('argo-rollouts')",
    );
    assert.equal(res.status, 3, res.stderr);
    assert.match(
      res.stderr,
      /cannot read upstream test data github\.com\/argoproj\/argo-rollouts@v1\.10\.2: .*GOPROXY=off/,
    );
  });
});
