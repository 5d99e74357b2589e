/**
 * The CLI driving a Rollout that Kanary's controller reconciles: the controller
 * pauses at a step, `kanary promote` moves it on, `kanary abort`/`retry` and
 * `kanary status` see what the controller does. The controller runs as its own
 * process, scoped to the test's namespace.
 */
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { type Manifest, rolloutEnv, upstreamFixture } from '../../support/controller.ts';
import { kanary } from './support.ts';

function rollout(name: string): Manifest {
  return {
    apiVersion: 'argoproj.io/v1alpha1',
    kind: 'Rollout',
    metadata: { name },
    spec: {
      replicas: 2,
      strategy: { canary: { steps: [{ setWeight: 50 }, { pause: {} }] } },
      selector: { matchLabels: { app: name } },
      template: {
        metadata: { labels: { app: name } },
        spec: { containers: [{ name: 'web', image: 'example/app:1' }] },
      },
    },
  };
}

it('set image, a controller pause, promote, abort, retry and status against the running controller', async (t) => {
  const env = await rolloutEnv(t, 'clictl');
  const ns = env.ns.name;
  await env.apply([rollout('web')]);
  await env.waitFor('web', 'Healthy', (r) => r.status?.phase === 'Healthy');

  const healthy = await kanary(['status', 'web', '-n', ns, '--timeout', '30s']);
  assert.deepEqual([healthy.code, healthy.stdout], [0, 'Healthy\n']);

  const set = await kanary(['set', 'image', 'web', 'web=example/app:2', '-n', ns]);
  assert.equal(set.stdout, 'rollout "web" image updated\n');
  await env.waitFor(
    'web',
    'paused at the pause step',
    (r) => r.status?.phase === 'Paused' && r.status?.currentStepIndex === 1,
  );

  // --paused-ok is what a pipeline uses to stop at the manual gate
  const gate = await kanary(['status', 'web', '-n', ns, '--paused-ok', '--timeout', '30s']);
  assert.equal(gate.code, 0);
  assert.equal(gate.stdout.trim().split('\n').at(-1), 'Paused - CanaryPauseStep');

  const view = await kanary(['get', 'rollout', 'web', '-n', ns]);
  assert.match(view.stdout, /^Status: +॥ Paused\nMessage: +CanaryPauseStep\n/m);
  assert.match(view.stdout, /^ {2}Step: +1\/2\n {2}SetWeight: +50\n/m);
  assert.match(view.stdout, /^Images: +example\/app:1 \(stable\)\n +example\/app:2 \(canary\)\n/m);

  // abort: the controller marks it Degraded; status exits 1 with the reason
  assert.equal((await kanary(['abort', 'web', '-n', ns])).stdout, "rollout 'web' aborted\n");
  await env.waitFor('web', 'Degraded', (r) => r.status?.phase === 'Degraded');
  const degraded = await kanary(['status', 'web', '-n', ns, '--timeout', '30s']);
  assert.equal(degraded.code, 1);
  assert.match(degraded.stderr, /^error: The rollout is in a degraded state with message: RolloutAborted: /);

  // retry: back through the steps to the pause
  assert.equal((await kanary(['retry', 'rollout', 'web', '-n', ns])).stdout, "rollout 'web' retried\n");
  await env.waitFor(
    'web',
    'paused again',
    (r) => r.status?.phase === 'Paused' && r.status?.currentStepIndex === 1,
  );

  // promote: the controller completes the pause step and finishes the update
  assert.equal((await kanary(['promote', 'web', '-n', ns])).stdout, "rollout 'web' promoted\n");
  const done = await kanary(['status', 'web', '-n', ns, '--timeout', '90s']);
  assert.equal(done.code, 0, done.stderr);
  assert.equal(done.stdout.trim().split('\n').at(-1), 'Healthy');
  const final = await env.ros.get('web');
  assert.equal(final.status?.currentStepIndex, 2);
  assert.equal(final.status?.stableRS, final.status?.currentPodHash);
});

it('blue-green (upstream example): get rollout shows stable/active and preview, promote switches, abort goes back', async (t) => {
  const env = await rolloutEnv(t, 'clibg');
  const ns = env.ns.name;
  const name = 'rollout-bluegreen';
  await env.apply(upstreamFixture('examples/rollout-bluegreen.yaml'));
  await env.waitFor(name, 'Healthy', (r) => r.status?.phase === 'Healthy');

  const list = await kanary(['list', 'rollouts', '-n', ns]);
  assert.match(list.stdout, /^rollout-bluegreen +BlueGreen +Healthy /m);

  await kanary(['set', 'image', name, 'rollouts-demo=argoproj/rollouts-demo:green', '-n', ns]);
  await env.waitFor(name, 'BlueGreenPause', (r) => r.status?.message === 'BlueGreenPause');
  const view = await kanary(['get', 'rollout', name, '-n', ns]);
  assert.match(view.stdout, /^Status: +॥ Paused\nMessage: +BlueGreenPause\nStrategy: +BlueGreen\n/m);
  assert.match(
    view.stdout,
    /^Images: +argoproj\/rollouts-demo:blue \(stable, active\)\n +argoproj\/rollouts-demo:green \(preview\)\n/m,
  );
  assert.match(view.stdout, /ReplicaSet +✔ Healthy +\S+ +preview\n/);
  assert.match(view.stdout, /ReplicaSet +✔ Healthy +\S+ +stable,active\n/);

  assert.equal((await kanary(['abort', name, '-n', ns])).stdout, `rollout '${name}' aborted\n`);
  const aborted = await env.waitFor(name, 'Degraded', (r) => r.status?.phase === 'Degraded');
  assert.equal(await env.selectorHash('rollout-bluegreen-active'), aborted.status?.stableRS);
  assert.equal((await kanary(['retry', 'rollout', name, '-n', ns])).stdout, `rollout '${name}' retried\n`);
  await env.waitFor(name, 'paused again', (r) => r.status?.message === 'BlueGreenPause');

  assert.equal((await kanary(['promote', name, '-n', ns])).stdout, `rollout '${name}' promoted\n`);
  const done = await kanary(['status', name, '-n', ns, '--timeout', '90s']);
  assert.equal(done.stdout.trim().split('\n').at(-1), 'Healthy');
  const final = await env.ros.get(name);
  assert.equal(await env.selectorHash('rollout-bluegreen-active'), final.status?.currentPodHash);
  const after = await kanary(['get', 'rollout', name, '-n', ns]);
  assert.match(
    after.stdout,
    /^Images: +argoproj\/rollouts-demo:blue\n +argoproj\/rollouts-demo:green \(stable, active\)\n/m,
  );
});
