/**
 * Argo CD compatibility of the live object: at each stage the Rollout is
 * judged by Argo CD's own health.lua, and Argo CD's own action scripts are run
 * on it and their result sent as exactly the patches Argo CD sends (status
 * subresource first, then the main resource); the controller must react to
 * each. Every status the tests see on the way is kept, and each must read, in
 * Argo CD, as the phase and message the controller wrote.
 */
import assert from 'node:assert/strict';
import { it, type TestContext } from 'node:test';
import { MERGE_PATCH, RESOURCES, resourcePath } from '../../../src/kube/client.ts';
import {
  actionPatches,
  discoverRolloutActions,
  type Health,
  rolloutHealth,
} from '../../support/argocd-lua.ts';
import { editRollout, type Rollout, type RolloutEnv, rolloutEnv } from '../../support/controller.ts';
import { tomozoManifests } from '../../support/scenario.ts';

const P = 'nginx.ingress.kubernetes.io';

async function argoAction(env: RolloutEnv, action: string): Promise<void> {
  const live = await env.ros.get('tomozo');
  assert.equal(discoverRolloutActions(live)[action]?.disabled, false, `Argo CD offers ${action}`);
  const patches = actionPatches(live, action);
  const path = resourcePath(RESOURCES.rollouts, env.ns.name, 'tomozo');
  if (patches.status) await env.client.patch(`${path}/status`, patches.status, MERGE_PATCH);
  if (patches.main) await env.client.patch(path, patches.main, MERGE_PATCH);
}

/** Every version of the Rollout the test saw, with Argo CD's health of it (one Lua run per version). */
class Seen {
  readonly versions = new Map<string, { ro: Rollout; health: Health }>();
  health(ro: Rollout): Health {
    const key = ro.metadata.resourceVersion;
    let seen = this.versions.get(key);
    if (!seen) {
      seen = { ro, health: rolloutHealth(ro) };
      this.versions.set(key, seen);
    }
    return seen.health;
  }
}

/** Waits until Argo CD would show `status` (and the message, when given) for the live Rollout. */
function health(
  env: RolloutEnv,
  seen: Seen,
  status: string,
  message?: string | RegExp,
  extra: (r: Rollout) => boolean = () => true,
) {
  return env.waitFor(`tomozo`, `Argo CD health ${status}${message ? ` (${message})` : ''}`, (r) => {
    const h = seen.health(r);
    const messageOk =
      message === undefined ||
      (typeof message === 'string' ? h.message === message : message.test(h.message));
    return h.status === status && messageOk && extra(r);
  });
}

/**
 * What Argo CD must show for a status Kanary wrote: "not observed yet" until
 * status.observedGeneration reaches metadata.generation, then the phase
 * (Paused as Suspended) and message as they are.
 */
function expectedHealth(ro: Rollout): Health {
  if (ro.status?.observedGeneration !== String(ro.metadata.generation)) {
    return { status: 'Progressing', message: 'Waiting for rollout spec update to be observed' };
  }
  const phase = ro.status?.phase ?? '';
  return { status: phase === 'Paused' ? 'Suspended' : phase, message: ro.status?.message ?? '' };
}

/** Each status seen reads in Argo CD as Kanary meant it; and the scenario showed Argo CD all of `statuses`. */
function assertAllSeen(t: TestContext, seen: Seen, statuses: string[]) {
  for (const { ro, health } of seen.versions.values()) {
    assert.deepEqual(
      health,
      expectedHealth(ro),
      `resourceVersion ${ro.metadata.resourceVersion}: ${JSON.stringify(ro.status)}`,
    );
  }
  const shown = new Set([...seen.versions.values()].map((v) => v.health.status));
  const phases = new Set([...seen.versions.values()].map((v) => v.ro.status?.phase ?? '(none)'));
  t.diagnostic(
    `${seen.versions.size} statuses (phases ${[...phases].join(', ')}) assessed by health.lua: ${[...shown].join(', ')}`,
  );
  for (const s of statuses)
    assert.ok(shown.has(s), `Argo CD showed ${s} (it showed ${[...shown].join(', ')})`);
}

it('Argo CD sees Healthy, Progressing, Degraded, Suspended; its actions drive the controller', async (t) => {
  const env = await rolloutEnv(t, 'argocd');
  const seen = new Seen();
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
  const v1 = await health(env, seen, 'Healthy', '');
  const actions = discoverRolloutActions(v1);
  assert.equal(actions.abort?.disabled, true, 'nothing to abort when fully promoted');
  assert.equal(actions.resume?.disabled, true);
  assert.equal(actions.restart?.disabled, false);

  // a release that never becomes ready: Progressing
  await env.ros.setImage('tomozo', 'tomozo', 'kanary-test/notready:2');
  await health(
    env,
    seen,
    'Progressing',
    'more replicas need to be updated',
    (r) => r.status?.currentPodHash !== v1.status?.stableRS,
  );

  // abort → Degraded, weight back to 0
  await argoAction(env, 'abort');
  const aborted = await health(env, seen, 'Degraded', 'RolloutAborted: Rollout aborted update to revision 2');
  assert.equal(aborted.status?.abort, true);
  assert.equal((await env.annotations('tomozo-tomozo-canary'))[`${P}/canary-weight`], '0');
  assert.equal(discoverRolloutActions(aborted).retry?.disabled, false);

  // retry (Argo CD removes status.abort) → Progressing again
  await argoAction(env, 'retry');
  const retried = await health(env, seen, 'Progressing');
  assert.equal(retried.status?.abort, undefined);
  assert.equal(
    retried.status?.conditions?.find((c) => c.type === 'Progressing')?.reason !== 'RolloutAborted',
    true,
  );

  // a good release: Suspended at the indefinite pause
  await env.ros.setImage('tomozo', 'tomozo', 'tomozo-repo/tomozo:0.0.2');
  const paused = await health(
    env,
    seen,
    'Suspended',
    'CanaryPauseStep',
    (r) => r.status?.currentStepIndex === 1,
  );
  const offered = discoverRolloutActions(paused);
  assert.equal(offered.resume?.disabled, false);
  assert.equal(offered['promote-full']?.disabled, false);
  assert.equal(offered['skip-current-step']?.disabled, false);

  // resume → through setWeight 50 and the 2 s pause → Healthy on 0.0.2
  await argoAction(env, 'resume');
  const v2 = await health(
    env,
    seen,
    'Healthy',
    '',
    (r) => r.status?.stableRS === paused.status?.currentPodHash,
  );
  assert.equal(v2.status?.currentStepIndex, 4);

  // pause (spec.paused) during the next update → Suspended "manually paused"; resume continues
  await env.ros.setImage('tomozo', 'tomozo', 'tomozo-repo/tomozo:0.0.3');
  await health(env, seen, 'Suspended', 'CanaryPauseStep');
  await argoAction(env, 'pause');
  await health(env, seen, 'Suspended', 'manually paused');
  await argoAction(env, 'resume'); // clears spec.paused and the pause condition at once
  await env.waitFor(
    'tomozo',
    'past the indefinite pause',
    (r) => (r.status?.currentStepIndex ?? 0) >= 2 && !r.spec.paused,
  );

  // skip-current-step on the next release moves past the pause
  await health(
    env,
    seen,
    'Healthy',
    '',
    (r) => r.spec.template.spec.containers[0]?.image === 'tomozo-repo/tomozo:0.0.3',
  );
  await env.ros.setImage('tomozo', 'tomozo', 'tomozo-repo/tomozo:0.0.4');
  await health(env, seen, 'Suspended', 'CanaryPauseStep');
  await argoAction(env, 'skip-current-step');
  await env.waitFor('tomozo', 'past step 1', (r) => (r.status?.currentStepIndex ?? 0) >= 2);

  // promote-full → Healthy at once (no waiting for the 2 s pause or steps)
  await argoAction(env, 'promote-full');
  const full = await health(env, seen, 'Healthy', '', (r) => r.status?.stableRS === r.status?.currentPodHash);
  assert.equal(full.spec.template.spec.containers[0]?.image, 'tomozo-repo/tomozo:0.0.4');
  assert.equal(full.status?.promoteFull, undefined);

  // restart → pods replaced, Healthy with restartedAt
  await new Promise((r) => setTimeout(r, 1100));
  await argoAction(env, 'restart');
  const restarted = await health(env, seen, 'Healthy', '', (r) => Boolean(r.status?.restartedAt));
  assert.equal(restarted.status?.restartedAt, restarted.spec.restartAt);

  assertAllSeen(t, seen, ['Healthy', 'Progressing', 'Degraded', 'Suspended']);
});

it('Argo CD sees an invalid spec as Degraded', async (t) => {
  const env = await rolloutEnv(t, 'argocd');
  const seen = new Seen();
  // the Rollout routes traffic through an Ingress that does not exist
  await env.apply(tomozoManifests().filter((m) => !(m.kind === 'Ingress' && m.metadata.name === 'tomozo')));
  const r = await health(env, seen, 'Degraded', /^InvalidSpec: The Rollout "tomozo" is invalid: /);
  assert.ok(r.status?.conditions?.some((c) => c.type === 'InvalidSpec'));
  assertAllSeen(t, seen, ['Degraded']);
});
