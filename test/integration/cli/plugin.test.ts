/** `kubectl kanary …`: the same CLI as a kubectl plugin, found through a kubectl-kanary executable on PATH. */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { before, it } from 'node:test';
import { testNamespace } from '../../support/cluster.ts';
import { Api, canaryRollout, ensureRolloutCrd, KUBECONFIG, pausedAtStepStatus, ROOT } from './support.ts';

before(ensureRolloutCrd);

it('kubectl kanary runs the kanary CLI when kubectl-kanary is on PATH', async (t) => {
  const ns = await testNamespace(t, 'cliplugin');
  const api = new Api(ns.name);
  await api.createWithStatus(canaryRollout('web', ns.name), pausedAtStepStatus());
  const dir = mkdtempSync(join(tmpdir(), 'kanary-plugin-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  symlinkSync(join(ROOT, 'bin', 'kanary.js'), join(dir, 'kubectl-kanary'));
  // PATH as a user has it (whatever `node` comes first), plus the plugin
  const env = { ...process.env, PATH: `${dir}:${process.env.PATH ?? ''}`, NO_COLOR: '1' };
  const kubectl = (...args: string[]) => spawnSync('kubectl', args, { env, encoding: 'utf8' });

  const plugins = kubectl('plugin', 'list');
  assert.match(plugins.stdout, /kubectl-kanary/);

  const get = kubectl('kanary', 'get', 'rollout', 'web', '-n', ns.name, '--kubeconfig', KUBECONFIG);
  assert.equal(get.stderr, '');
  assert.equal(get.status, 0);
  assert.match(get.stdout, /^Name: +web\nNamespace: +\S+\nStatus: +॥ Paused\n/);

  const promote = kubectl('kanary', 'promote', 'web', '-n', ns.name, '--kubeconfig', KUBECONFIG);
  assert.equal(promote.stdout, "rollout 'web' promoted\n");
  assert.equal((await api.get('web')).status?.pauseConditions, undefined);
});
