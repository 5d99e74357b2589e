import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { parse } from 'yaml';
import {
  actionPatches,
  applyAction,
  createMergePatch,
  discoverActions,
  ROLLOUT_ACTIONS,
  type RolloutAction,
  type RolloutObject,
  rolloutHealth,
} from '../../../src/compat/argocd.ts';
import { upstreamPath } from '../../support/upstream.ts';

/** Argo CD's own Rollout health and action cases, read in place from the pinned module. */
const HEALTH = upstreamPath('argo-cd', 'resource_customizations/argoproj.io/Rollout');
const ACTIONS = join(HEALTH, 'actions');

const load = (dir: string, path: string) => parse(readFileSync(join(dir, path), 'utf8')) as RolloutObject;

/** Drops null-valued keys recursively, as Argo CD does when it hands an object to Lua (null is nil there). */
function withoutNulls(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(withoutNulls);
  if (typeof v === 'object' && v !== null) {
    return Object.fromEntries(
      Object.entries(v)
        .filter(([, x]) => x !== null)
        .map(([k, x]) => [k, withoutNulls(x)]),
    );
  }
  return v;
}

interface HealthCase {
  inputPath: string;
  healthStatus: { status: string; message?: string };
}

describe('Argo CD health of a Rollout (argo-cd health_test.yaml)', () => {
  const { tests } = parse(readFileSync(join(HEALTH, 'health_test.yaml'), 'utf8')) as { tests: HealthCase[] };
  it('has the 24 upstream cases', () => assert.equal(tests.length, 24));
  for (const t of tests) {
    it(`${t.inputPath} → ${t.healthStatus.status}`, () => {
      const ro = withoutNulls(load(HEALTH, t.inputPath)) as RolloutObject;
      assert.deepEqual(rolloutHealth(ro), {
        status: t.healthStatus.status,
        message: t.healthStatus.message ?? '',
      });
    });
  }
  it('maps an unknown phase to Unknown', () => {
    assert.deepEqual(
      rolloutHealth({ metadata: { generation: 1 }, status: { observedGeneration: '1', phase: 'Weird' } }),
      {
        status: 'Unknown',
        message: '',
      },
    );
  });
});

interface DiscoveryCase {
  inputPath: string;
  result: { name: string; disabled: boolean; displayName?: string }[];
}
interface ActionCase {
  action: RolloutAction;
  inputPath: string;
  expectedOutputPath: string;
}

describe('Argo CD actions on a Rollout (argo-cd action_test.yaml)', () => {
  const suite = parse(readFileSync(join(ACTIONS, 'action_test.yaml'), 'utf8')) as {
    discoveryTests: DiscoveryCase[];
    actionTests: ActionCase[];
  };
  // v3.6.1 has two discovery cases and one action case (Rollouts without a status) that the
  // copy this test used to read (argo-cd commit 37ee009) did not have
  it('has the 11 discovery and 9 action cases', () => {
    assert.equal(suite.discoveryTests.length, 11);
    assert.equal(suite.actionTests.length, 9);
  });

  for (const t of suite.discoveryTests) {
    it(`discovery: ${t.inputPath}`, () => {
      const found = discoverActions(withoutNulls(load(ACTIONS, t.inputPath)) as RolloutObject);
      assert.deepEqual(Object.keys(found).sort(), t.result.map((r) => r.name).sort());
      for (const expected of t.result) {
        const { name, ...availability } = expected;
        assert.deepEqual(found[name as RolloutAction], availability, `action ${name}`);
      }
    });
  }

  for (const t of suite.actionTests) {
    it(`${t.action}: ${t.inputPath} → ${t.expectedOutputPath}`, () => {
      const input = withoutNulls(load(ACTIONS, t.inputPath)) as RolloutObject;
      const expected = withoutNulls(load(ACTIONS, t.expectedOutputPath)) as RolloutObject;
      const output = withoutNulls(
        applyAction(input, t.action, new Date('2026-01-15T12:34:56.789Z')),
      ) as RolloutObject;
      if (t.action === 'restart') {
        // the upstream runner normalises restartAt (it is "now"); check its format instead
        assert.equal(output.spec?.restartAt, '2026-01-15T12:34:56Z');
        if (output.spec && expected.spec) output.spec.restartAt = expected.spec.restartAt;
      }
      assert.deepEqual(output, expected);
      assert.notDeepEqual(output, input, 'the action must change something');
    });
  }

  it('every action leaves its input untouched', () => {
    const input = load(ACTIONS, 'testdata/has_pause_condition_rollout.yaml');
    const before = structuredClone(input);
    for (const action of ROLLOUT_ACTIONS) applyAction(input, action);
    assert.deepEqual(input, before);
  });
});

describe('patches Argo CD sends for an action', () => {
  const live = load(ACTIONS, 'testdata/has_pause_condition_rollout.yaml');
  const now = new Date('2026-01-15T12:00:00Z');
  it('resume clears pause conditions through the status subresource only', () => {
    assert.deepEqual(actionPatches(live, 'resume', now), {
      status: { status: { pauseConditions: null } },
      unified: { status: { pauseConditions: null } },
    });
  });
  it('abort sets status.abort', () => {
    assert.deepEqual(actionPatches(live, 'abort', now).status, { status: { abort: true } });
  });
  it('pause and restart patch the main resource only', () => {
    assert.deepEqual(actionPatches(live, 'pause', now), {
      main: { spec: { paused: true } },
      unified: { spec: { paused: true } },
    });
    assert.deepEqual(actionPatches(live, 'restart', now).main, {
      spec: { restartAt: '2026-01-15T12:00:00Z' },
    });
  });
  it('resume of a manually paused rollout with a pause condition sends both', () => {
    const both = structuredClone(live);
    if (both.spec) both.spec.paused = true;
    const patches = actionPatches(both, 'resume', now);
    assert.deepEqual(patches.status, { spec: { paused: false }, status: { pauseConditions: null } });
    assert.deepEqual(patches.main, { spec: { paused: false } });
  });
  it('retry nulls status.abort', () => {
    const aborted = load(ACTIONS, 'testdata/aborted_rollout.yaml');
    assert.deepEqual(actionPatches(aborted, 'retry', now).status, { status: { abort: null } });
  });
});

describe('createMergePatch', () => {
  const cases: [string, unknown, unknown, unknown][] = [
    ['no change', { a: 1 }, { a: 1 }, undefined],
    ['changed scalar', { a: 1 }, { a: 2 }, { a: 2 }],
    ['removed key', { a: 1, b: 2 }, { a: 1 }, { b: null }],
    ['nested', { s: { x: 1, y: 2 } }, { s: { x: 1, y: 3 } }, { s: { y: 3 } }],
    ['arrays replace', { l: [1, 2] }, { l: [1] }, { l: [1] }],
    ['new object', {}, { s: { x: 1 } }, { s: { x: 1 } }],
  ];
  for (const [name, from, to, want] of cases)
    it(name, () => assert.deepEqual(createMergePatch(from, to), want));
});
