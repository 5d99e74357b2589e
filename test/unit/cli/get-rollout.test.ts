import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { renderRollout } from '../../../src/cli/render/rollout.ts';
import { rolloutInfo } from '../../../src/client/rollout-info.ts';
import type { RolloutObjects } from '../../../src/client/types.ts';
import { assertGolden, type FixtureSet, loadInfoFixtures, NOW, objectsFor } from './support.ts';

const plain = { now: NOW, colour: false };

function render(objects: RolloutObjects, colour = false): string {
  return renderRollout(rolloutInfo(objects), { now: NOW, colour });
}

function withScaleDownDeadline(set: FixtureSet, rsIndex: number, deadline: string): FixtureSet {
  const copy = structuredClone(set);
  const rs = copy.replicaSets[rsIndex];
  assert.ok(rs);
  rs.metadata.annotations = { ...rs.metadata.annotations, 'scale-down-deadline': deadline };
  // without the hash label the ReplicaSet is no longer the preview one, so the delay shows instead
  delete rs.metadata.labels?.['rollouts-pod-template-hash'];
  return copy;
}

describe('get rollout output (snapshots of upstream info-testdata)', () => {
  it('canary, degraded by a progress deadline', () => {
    assertGolden('get-rollout-canary.txt', render(objectsFor(loadInfoFixtures('canary'), 'canary-demo')));
  });

  it('canary with colours', () => {
    const out = render(objectsFor(loadInfoFixtures('canary'), 'canary-demo'), true);
    assert.ok(out.includes('\u001b['), 'expected ANSI colour codes');
    assertGolden('get-rollout-canary-colour.txt', out);
  });

  it('canary with ping-pong services', () => {
    assertGolden(
      'get-rollout-canary-pingpong.txt',
      render(objectsFor(loadInfoFixtures('canary'), 'canary-demo-pingpong')),
    );
  });

  it('canary with traffic weights recorded by the router', () => {
    const set = loadInfoFixtures('canary');
    assertGolden('get-rollout-canary-weights.txt', render(objectsFor(set, 'canary-demo-weights')));
    assertGolden('get-rollout-canary-weights-na.txt', render(objectsFor(set, 'canary-demo-weights-na')));
  });

  it('canary paused at a pause step', () => {
    const objects = structuredClone(objectsFor(loadInfoFixtures('canary'), 'canary-demo'));
    const status = objects.rollout.status ?? {};
    status.conditions = (status.conditions ?? []).filter((c) => c.type !== 'Progressing');
    status.currentStepIndex = 1;
    status.pauseConditions = [{ reason: 'CanaryPauseStep', startTime: '2026-01-15T11:00:00Z' }];
    status.controllerPause = true;
    status.phase = 'Paused';
    status.message = 'CanaryPauseStep';
    objects.rollout.status = status;
    const out = render(objects);
    assert.match(out, /^Status: +॥ Paused$/m);
    assert.match(out, /^ {2}Step: +1\/8$/m);
    assertGolden('get-rollout-canary-paused.txt', out);
  });

  it('blue-green, paused before promotion', () => {
    assertGolden(
      'get-rollout-bluegreen.txt',
      render(objectsFor(loadInfoFixtures('blue-green'), 'bluegreen-demo')),
    );
  });

  it('blue-green with a scale-down delay pending and passed', () => {
    const set = loadInfoFixtures('blue-green');
    const inFourHours = new Date(NOW + 4 * 3600_000).toISOString();
    const anHourAgo = new Date(NOW - 3600_000).toISOString();
    const pending = render(objectsFor(withScaleDownDeadline(set, 2, inFourHours), 'bluegreen-demo'));
    // the deadline is exactly 4h away; upstream shows 3h59m because its clock moved on, ours does not
    assert.match(pending, /ReplicaSet +✔ Healthy +7d +delay:4h$/m);
    assertGolden('get-rollout-bluegreen-delay.txt', pending);
    const passed = render(objectsFor(withScaleDownDeadline(set, 2, anHourAgo), 'bluegreen-demo'));
    assert.match(passed, /delay:passed$/m);
    assertGolden('get-rollout-bluegreen-delay-passed.txt', passed);
  });

  it('canary with an experiment and a background analysis', () => {
    assertGolden(
      'get-rollout-experiment-analysis.txt',
      render(objectsFor(loadInfoFixtures('experiment-analysis'), 'rollout-experiment-analysis')),
    );
  });

  it('canary at an experiment step with a job analysis', () => {
    assertGolden(
      'get-rollout-experiment-step.txt',
      render(objectsFor(loadInfoFixtures('experiment-step'), 'canary-demo')),
    );
  });

  it('invalid spec', () => {
    assertGolden(
      'get-rollout-invalid.txt',
      render(objectsFor(loadInfoFixtures('rollout-invalid'), 'rollout-invalid')),
    );
  });

  it('aborted by a failed analysis', () => {
    assertGolden(
      'get-rollout-aborted.txt',
      render(objectsFor(loadInfoFixtures('rollout-aborted'), 'rollout-background-analysis')),
    );
  });

  it('shows restarts and hides trailing spaces', () => {
    const objects = structuredClone(objectsFor(loadInfoFixtures('canary'), 'canary-demo'));
    const pod = objects.pods.find((p) => p.metadata.name === 'canary-demo-877894d5b-6jfpt');
    const cs = pod?.status?.containerStatuses?.[0];
    assert.ok(cs);
    cs.restartCount = 3;
    const out = renderRollout(rolloutInfo(objects), plain);
    assert.match(out, /canary-demo-877894d5b-6jfpt +Pod +✔ Running +7d +ready:1\/1,restarts:3$/m);
    for (const line of out.split('\n')) assert.equal(line, line.trimEnd());
  });
});
