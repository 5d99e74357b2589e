/**
 * Argo CD compatibility of the live object: at each stage the Rollout is
 * judged by our port of Argo CD's health check (src/compat/argocd.ts), and
 * Argo CD's resource actions are run by sending exactly the patches Argo CD
 * sends (status subresource first, then the main resource); the controller
 * must react to each.
 */
import assert from 'node:assert/strict';
import { it } from 'node:test';
import {
  actionPatches,
  discoverActions,
  type RolloutAction,
  type RolloutObject,
  rolloutHealth,
} from '../../../src/compat/argocd.ts';
import { MERGE_PATCH, RESOURCES, resourcePath } from '../../../src/kube/client.ts';
import { editRollout, type Rollout, type RolloutEnv, rolloutEnv } from '../../support/controller.ts';
import { tomozoManifests } from '../../support/scenario.ts';

const P = 'nginx.ingress.kubernetes.io';

async function argoAction(env: RolloutEnv, action: RolloutAction): Promise<void> {
  const live = (await env.ros.get('tomozo')) as unknown as RolloutObject;
  assert.equal(discoverActions(live)[action].disabled, false, `Argo CD offers ${action}`);
  const patches = actionPatches(live, action);
  const path = resourcePath(RESOURCES.rollouts, env.ns.name, 'tomozo');
  if (patches.status) await env.client.patch(`${path}/status`, patches.status, MERGE_PATCH);
  if (patches.main) await env.client.patch(path, patches.main, MERGE_PATCH);
}

/** Waits until Argo CD would show `status` (and the message, when given) for the live Rollout. */
function health(
  env: RolloutEnv,
  status: string,
  message?: string,
  extra: (r: Rollout) => boolean = () => true,
) {
  return env.waitFor(`tomozo`, `Argo CD health ${status}${message ? ` (${message})` : ''}`, (r) => {
    const h = rolloutHealth(r as unknown as RolloutObject);
    return h.status === status && (message === undefined || h.message === message) && extra(r);
  });
}

it('Argo CD sees Healthy, Progressing, Degraded, Suspended; its actions drive the controller', async (t) => {
  const env = await rolloutEnv(t, 'argocd');
  await env.apply(
    editRollout(tomozoManifests(), (ro) => {
      ro.spec.replicas = 2;
      ro.spec.strategy.canary.scaleDownDelaySeconds = 2;
      ro.spec.strategy.canary.steps = [
        { setWeight: 10 },
        { pause: {} },
        { setWeight: 50 },
        { pause: { duration: 2 } },
      ];
    }),
  );
  const v1 = await health(env, 'Healthy', '');
  const actions = discoverActions(v1 as unknown as RolloutObject);
  assert.equal(actions.abort.disabled, true, 'nothing to abort when fully promoted');
  assert.equal(actions.resume.disabled, true);
  assert.equal(actions.restart.disabled, false);

  // a release that never becomes ready: Progressing
  await env.ros.setImage('tomozo', 'tomozo', 'kanary-test/notready:2');
  await health(
    env,
    'Progressing',
    'more replicas need to be updated',
    (r) => r.status?.currentPodHash !== v1.status?.stableRS,
  );

  // abort → Degraded, weight back to 0
  await argoAction(env, 'abort');
  const aborted = await health(env, 'Degraded', 'RolloutAborted: Rollout aborted update to revision 2');
  assert.equal(aborted.status?.abort, true);
  assert.equal((await env.annotations('tomozo-tomozo-canary'))[`${P}/canary-weight`], '0');
  assert.equal(discoverActions(aborted as unknown as RolloutObject).retry.disabled, false);

  // retry (Argo CD removes status.abort) → Progressing again
  await argoAction(env, 'retry');
  const retried = await health(env, 'Progressing');
  assert.equal(retried.status?.abort, undefined);
  assert.equal(
    retried.status?.conditions?.find((c) => c.type === 'Progressing')?.reason !== 'RolloutAborted',
    true,
  );

  // a good release: Suspended at the indefinite pause
  await env.ros.setImage('tomozo', 'tomozo', 'tomozo-repo/tomozo:0.0.2');
  const paused = await health(env, 'Suspended', 'CanaryPauseStep', (r) => r.status?.currentStepIndex === 1);
  const offered = discoverActions(paused as unknown as RolloutObject);
  assert.equal(offered.resume.disabled, false);
  assert.equal(offered['promote-full'].disabled, false);
  assert.equal(offered['skip-current-step'].disabled, false);

  // resume → through setWeight 50 and the 2 s pause → Healthy on 0.0.2
  await argoAction(env, 'resume');
  const v2 = await health(env, 'Healthy', '', (r) => r.status?.stableRS === paused.status?.currentPodHash);
  assert.equal(v2.status?.currentStepIndex, 4);

  // pause (spec.paused) during the next update → Suspended "manually paused"; resume continues
  await env.ros.setImage('tomozo', 'tomozo', 'tomozo-repo/tomozo:0.0.3');
  await health(env, 'Suspended', 'CanaryPauseStep');
  await argoAction(env, 'pause');
  await health(env, 'Suspended', 'manually paused');
  await argoAction(env, 'resume'); // clears spec.paused and the pause condition at once
  await env.waitFor(
    'tomozo',
    'past the indefinite pause',
    (r) => (r.status?.currentStepIndex ?? 0) >= 2 && !r.spec.paused,
  );

  // skip-current-step on the next release moves past the pause
  await health(
    env,
    'Healthy',
    '',
    (r) => r.spec.template.spec.containers[0]?.image === 'tomozo-repo/tomozo:0.0.3',
  );
  await env.ros.setImage('tomozo', 'tomozo', 'tomozo-repo/tomozo:0.0.4');
  await health(env, 'Suspended', 'CanaryPauseStep');
  await argoAction(env, 'skip-current-step');
  await env.waitFor('tomozo', 'past step 1', (r) => (r.status?.currentStepIndex ?? 0) >= 2);

  // promote-full → Healthy at once (no waiting for the 2 s pause or steps)
  await argoAction(env, 'promote-full');
  const full = await health(env, 'Healthy', '', (r) => r.status?.stableRS === r.status?.currentPodHash);
  assert.equal(full.spec.template.spec.containers[0]?.image, 'tomozo-repo/tomozo:0.0.4');
  assert.equal(full.status?.promoteFull, undefined);

  // restart → pods replaced, Healthy with restartedAt
  await new Promise((r) => setTimeout(r, 1100));
  await argoAction(env, 'restart');
  const restarted = await health(env, 'Healthy', '', (r) => Boolean(r.status?.restartedAt));
  assert.equal(restarted.status?.restartedAt, restarted.spec.restartAt);
});
