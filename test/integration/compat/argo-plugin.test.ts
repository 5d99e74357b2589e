/**
 * The real `kubectl-argo-rollouts` (built by hack/argo/build.sh) driving a
 * Rollout that Kanary's controller runs: every command a user types against
 * Argo must work against Kanary, with Kanary reacting as Argo's controller
 * would; `get rollout` must print what `kanary get rollout` prints.
 */
import assert from 'node:assert/strict';
import { before, it, type TestContext } from 'node:test';
import { type ArgoBinaries, argoBinaries, argoPlugin, argoPluginOk } from '../../support/argo.ts';
import {
  editRollout,
  HASH_LABEL,
  REVISION_ANNOTATION,
  type Rollout,
  rolloutEnv,
} from '../../support/controller.ts';
import { assertSameGet } from '../../support/parity.ts';
import { tomozoManifests } from '../../support/scenario.ts';
import { kanary } from '../cli/support.ts';

const NAME = 'tomozo';
let bins: ArgoBinaries;

before(
  async () => {
    bins = await argoBinaries();
  },
  { timeout: 60 * 60_000 }, // a cold build compiles Argo Rollouts (see docs/benchmarks.md)
);

it('kubectl-argo-rollouts drives a Rollout run by Kanary: get, set image, promote, promote --full, abort, retry, pause, undo, status', async (t: TestContext) => {
  const env = await rolloutEnv(t, 'argo-plugin');
  const ns = env.ns.name;
  const plugin = (...args: string[]) => argoPluginOk(bins, ns, args);
  const image = (r: Rollout) => r.spec.template.spec.containers[0]?.image;
  const fail = (what: string) => (err: unknown) => {
    throw new Error(`${what}: ${(err as Error).message}\ncontroller log:\n${env.logs()}`);
  };
  await env.apply(
    editRollout(tomozoManifests(), (ro) => {
      ro.spec.replicas = 4;
    }),
  );
  await env.waitFor(
    NAME,
    'Healthy',
    (r) => r.status?.phase === 'Healthy' && r.status.availableReplicas === 4,
  );

  /** `get rollout` of both CLIs, line by line, once the Rollout settled. */
  const compareGet = async (when: string) => {
    await assertSameGet(
      async () => ({
        argo: await plugin('get', 'rollout', NAME, '--no-color'),
        ours: await kanary(['get', 'rollout', NAME, '-n', ns]),
      }),
      when,
    );
  };
  await compareGet('Healthy');

  const status = await argoPlugin(bins, ns, ['status', NAME, '--timeout', '20s']);
  assert.equal(status.status, 0, status.stderr);
  assert.match(status.stdout, /Healthy/);

  await plugin('set', 'image', NAME, `${NAME}=tomozo-repo/tomozo:0.0.2`);
  const paused = await env.waitFor(
    NAME,
    'Paused at step 1',
    (r) =>
      r.status?.phase === 'Paused' &&
      r.status.currentStepIndex === 1 &&
      image(r) === 'tomozo-repo/tomozo:0.0.2',
  );
  await env.expectCanaryStable(NAME, 1, 4);
  await compareGet('Paused at setWeight 10');

  await plugin('promote', NAME);
  const promoted = await env.waitFor(
    NAME,
    'Healthy on 0.0.2',
    (r) => r.status?.phase === 'Healthy' && r.status.stableRS === paused.status?.currentPodHash,
  );
  assert.equal(promoted.status?.currentStepIndex, 2);

  await plugin('set', 'image', NAME, `${NAME}=tomozo-repo/tomozo:0.0.3`);
  const paused3 = await env.waitFor(NAME, 'Paused on 0.0.3', (r) => r.status?.phase === 'Paused');
  await plugin('promote', NAME, '--full');
  await env.waitFor(
    NAME,
    'Healthy on 0.0.3 after promote --full',
    (r) => r.status?.phase === 'Healthy' && r.status.stableRS === paused3.status?.currentPodHash,
  );

  await plugin('set', 'image', NAME, `${NAME}=tomozo-repo/tomozo:0.0.4`);
  await env.waitFor(NAME, 'Paused on 0.0.4', (r) => r.status?.phase === 'Paused');
  await plugin('abort', NAME);
  const aborted = await env.waitFor(NAME, 'Degraded after abort', (r) => r.status?.phase === 'Degraded');
  assert.equal(aborted.status?.abort, true);
  assert.match(aborted.status?.message ?? '', /^RolloutAborted: /);
  assert.equal(
    aborted.status?.canary?.weights?.canary.weight,
    0,
    'all traffic back on the stable ReplicaSet',
  );
  await compareGet('Degraded (aborted)');

  await plugin('retry', 'rollout', NAME);
  await env
    .waitFor(
      NAME,
      'Paused at step 1 again after retry',
      (r) => r.status?.phase === 'Paused' && !r.status.abort,
    )
    .catch(fail('retry'));

  await plugin('pause', NAME);
  const manual = await env.waitFor(NAME, 'manually paused', (r) => r.status?.message === 'manually paused');
  assert.equal(manual.spec.paused, true);
  assert.equal(manual.status?.phase, 'Paused');
  await plugin('promote', NAME); // unpauses and leaves the canary step
  await env.waitFor(
    NAME,
    'Healthy on 0.0.4',
    (r) => r.status?.phase === 'Healthy' && image(r) === 'tomozo-repo/tomozo:0.0.4',
  );

  await plugin('undo', NAME);
  const undone = await env.waitFor(
    NAME,
    'back on 0.0.3 after undo',
    (r) => image(r) === 'tomozo-repo/tomozo:0.0.3',
  );
  const rs3 = (await env.replicaSets()).find(
    (rs) => rs.metadata.labels?.[HASH_LABEL] === paused3.status?.currentPodHash,
  );
  await env.waitFor(
    NAME,
    'the 0.0.3 ReplicaSet is the current one again, under a new revision',
    (r) =>
      r.status?.currentPodHash === paused3.status?.currentPodHash &&
      r.metadata.annotations?.[REVISION_ANNOTATION] === '5',
  );
  assert.ok(rs3, 'the 0.0.3 ReplicaSet is reused, not recreated');
  assert.notEqual(undone.status?.phase, 'Degraded');
  const done = await argoPlugin(bins, ns, ['status', NAME, '--timeout', '60s']);
  assert.match(done.stdout, /Healthy|Paused/, done.stdout + done.stderr);
});
