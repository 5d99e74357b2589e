/**
 * Bad input never crashes the controller: our CRD (like Argo's) keeps most of
 * the canary strategy and the pod template schemaless, so nonsense reaches the
 * controller. Each such Rollout is reported (InvalidSpec, Degraded) and a good
 * Rollout next to them is still run.
 */
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { type Manifest, type RolloutEnv, rolloutEnv } from '../../support/controller.ts';

function rollout(name: string, canary: unknown, template?: unknown): Manifest {
  return {
    apiVersion: 'argoproj.io/v1alpha1',
    kind: 'Rollout',
    metadata: { name },
    spec: {
      replicas: 1,
      selector: { matchLabels: { app: name } },
      template: template ?? {
        metadata: { labels: { app: name } },
        spec: { containers: [{ name: 'c', image: 'nginx:1.19-alpine' }] },
      },
      strategy: { canary },
    },
  };
}

function withSelector(name: string, matchExpressions: unknown): Manifest {
  const m = rollout(name, {});
  (m.spec as { selector: unknown }).selector = { matchLabels: { app: name }, matchExpressions };
  return m;
}

const garbage: Manifest[] = [
  withSelector('selector-values-an-object', [{ key: 'app', operator: 'In', values: { a: 1 } }]),
  withSelector('selector-values-a-number', [{ key: 'app', operator: 'NotIn', values: 7 }]),
  withSelector('selector-key-a-list', [{ key: ['app'], operator: 'Exists' }]),
  rollout('steps-a-string', { steps: 'all of them' }),
  rollout('weight-a-word', { steps: [{ setWeight: 'ten' }] }),
  rollout('step-a-number', { steps: [42] }),
  rollout('nginx-a-string', { canaryService: 'a', stableService: 'b', trafficRouting: { nginx: 'yes' } }),
  rollout('ingresses-not-strings', {
    canaryService: 'a',
    stableService: 'b',
    trafficRouting: { nginx: { stableIngresses: [1, { x: 2 }] } },
  }),
  rollout('surge-an-object', { maxSurge: { a: 1 } }),
  rollout('pause-duration-object', { steps: [{ pause: { duration: { s: 1 } } }] }),
  rollout(
    'containers-not-a-list',
    {},
    { metadata: { labels: { app: 'containers-not-a-list' } }, spec: { containers: 'nginx' } },
  ),
  rollout(
    'container-name-a-number',
    {},
    {
      metadata: { labels: { app: 'container-name-a-number' } },
      spec: { containers: [{ name: 5, image: 7 }] },
    },
  ),
  rollout(
    'template-labels-wrong',
    {},
    { metadata: { labels: ['app'] }, spec: { containers: [{ name: 'c', image: 'x:1' }] } },
  ),
];

async function degradedOrInvalid(env: RolloutEnv, name: string) {
  return env.waitFor(name, 'reported as invalid', (r) =>
    Boolean(r.status?.phase === 'Degraded' && r.status.conditions?.some((c) => c.type === 'InvalidSpec')),
  );
}

it('nonsense specs are reported as InvalidSpec; the controller keeps running the good Rollout next to them', async (t) => {
  const env = await rolloutEnv(t, 'garbage');
  for (const m of garbage) {
    // some nonsense the API server itself refuses (our CRD's schema); the rest must reach the controller
    await env.apply([m]).catch(() => undefined);
  }
  await env.apply([rollout('good', { steps: [{ setWeight: 50 }, { pause: {} }] })]);
  await env.waitFor('good', 'Healthy', (r) => r.status?.phase === 'Healthy');

  const stored = [];
  for (const m of garbage)
    if (await env.ros.get(m.metadata.name).catch(() => undefined)) stored.push(m.metadata.name);
  assert.ok(
    stored.length >= 5,
    `only ${stored.length} of the nonsense Rollouts were stored: ${stored.join(', ')}`,
  );
  for (const name of stored) {
    const r = await degradedOrInvalid(env, name);
    assert.match(r.status?.message ?? '', /^InvalidSpec: The Rollout ".*" is invalid: /);
  }
  assert.deepEqual(
    (await env.replicaSets()).map((rs) => rs.metadata.name.replace(/-[^-]+$/, '')),
    ['good'],
    'nothing created for the nonsense',
  );

  // still alive and still working
  await env.ros.setImage('good', 'c', 'nginx:1.19-alpine-2');
  await env.waitFor('good', 'Paused', (r) => r.status?.phase === 'Paused');
  await sleep(500);
  assert.equal(env.ctrl?.child.exitCode, null, `the controller exited:\n${env.logs()}`);
  assert.ok(!env.ctrl?.logs.some((l) => /"level":60/.test(l)), 'no fatal log line');
});
