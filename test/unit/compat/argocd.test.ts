/**
 * The harness that runs Argo CD's own Rollout Lua (test/support/argocd-lua.ts),
 * checked against Argo CD's own test cases for those scripts: if the harness
 * set a script up differently from Argo CD (globals, JSON ↔ Lua conversion,
 * reading the result), these cases would not come out as upstream expects.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { parse } from 'yaml';
import {
  actionPatches,
  actionResultFromLua,
  actionsFromLua,
  createMergePatch,
  discoverRolloutActions,
  healthFromLua,
  restoreEmptyObjects,
  rolloutActionNames,
  rolloutCustomizations,
  rolloutHealth,
  rolloutHealths,
  runRolloutAction,
  runRolloutLua,
} from '../../support/argocd-lua.ts';

/** Argo CD's own Rollout health and action cases, read in place from the pinned module. */
const HEALTH = rolloutCustomizations();
const ACTIONS = join(HEALTH, 'actions');

type Obj = Record<string, unknown>;
const load = (dir: string, path: string) => parse(readFileSync(join(dir, path), 'utf8')) as Obj;

/** Drops null-valued keys recursively: the Lua result cannot hold them (nil is no key). */
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

describe("Argo CD's health.lua on its own cases (health_test.yaml)", () => {
  const { tests } = parse(readFileSync(join(HEALTH, 'health_test.yaml'), 'utf8')) as { tests: HealthCase[] };
  it('has the 24 upstream cases', () => assert.equal(tests.length, 24));
  // all cases in one Lua process
  const healths = rolloutHealths(tests.map((t) => load(HEALTH, t.inputPath)));
  tests.forEach((t, i) => {
    it(`${t.inputPath} → ${t.healthStatus.status}`, () => {
      assert.deepEqual(healths[i], { status: t.healthStatus.status, message: t.healthStatus.message ?? '' });
    });
  });
  it('an unknown phase is not a health status: Argo CD shows Unknown and says why', () => {
    assert.deepEqual(
      rolloutHealth({
        metadata: { generation: 1 },
        spec: {},
        status: { observedGeneration: '1', phase: 'Weird' },
      }),
      { status: 'Unknown', message: 'Lua returned an invalid health status' },
    );
  });
  it('a phase without a message reads as an empty message', () => {
    assert.deepEqual(
      rolloutHealth({
        metadata: { generation: 2 },
        spec: {},
        status: { observedGeneration: 2, phase: 'Healthy' },
      }),
      { status: 'Healthy', message: '' },
    );
  });
});

interface DiscoveryCase {
  inputPath: string;
  result: { name: string; disabled: boolean; displayName?: string }[];
}
interface ActionCase {
  action: string;
  inputPath: string;
  expectedOutputPath: string;
}

describe("Argo CD's action Lua on its own cases (action_test.yaml)", () => {
  const suite = parse(readFileSync(join(ACTIONS, 'action_test.yaml'), 'utf8')) as {
    discoveryTests: DiscoveryCase[];
    actionTests: ActionCase[];
  };
  it('has the 11 discovery and 9 action cases', () => {
    assert.equal(suite.discoveryTests.length, 11);
    assert.equal(suite.actionTests.length, 9);
  });
  it('ships the 7 actions discovery offers', () => {
    assert.deepEqual(rolloutActionNames(), [
      'abort',
      'pause',
      'promote-full',
      'restart',
      'resume',
      'retry',
      'skip-current-step',
    ]);
  });

  const now = new Date('2026-01-15T12:34:56.789Z');
  // discovery and action cases, all in one Lua process
  const outcomes = runRolloutLua([
    ...suite.discoveryTests.map((t) => ({ kind: 'discovery' as const, obj: load(ACTIONS, t.inputPath) })),
    ...suite.actionTests.map((t) => ({
      kind: 'action' as const,
      action: t.action,
      obj: load(ACTIONS, t.inputPath),
      now,
    })),
  ]);

  suite.discoveryTests.forEach((t, i) => {
    it(`discovery: ${t.inputPath}`, () => {
      const outcome = outcomes[i];
      assert.ok(outcome?.ok, JSON.stringify(outcome));
      const found = actionsFromLua(outcome.value);
      assert.deepEqual(Object.keys(found).sort(), t.result.map((r) => r.name).sort());
      assert.deepEqual(Object.keys(found).sort(), rolloutActionNames());
      for (const expected of t.result) {
        const { name, ...availability } = expected;
        assert.deepEqual(found[name], availability, `action ${name}`);
      }
    });
  });

  suite.actionTests.forEach((t, j) => {
    it(`${t.action}: ${t.inputPath} → ${t.expectedOutputPath}`, () => {
      const outcome = outcomes[suite.discoveryTests.length + j];
      assert.ok(outcome?.ok, JSON.stringify(outcome));
      const input = load(ACTIONS, t.inputPath);
      const expected = withoutNulls(load(ACTIONS, t.expectedOutputPath)) as Obj;
      const output = actionResultFromLua(outcome.value, input, t.action) as Obj & { spec?: Obj };
      if (t.action === 'restart') {
        // upstream's runner blanks restartAt (it is "now"); here "now" is fixed, so check the value
        assert.equal(output.spec?.restartAt, '2026-01-15T12:34:56Z');
        (output.spec as Obj).restartAt = (expected.spec as Obj).restartAt;
      }
      assert.deepEqual(output, expected);
      assert.notDeepEqual(output, withoutNulls(input), 'the action must change something');
    });
  });

  it('upstream has cases for every shipped action but pause (checked below, under patches)', () => {
    const covered = [...new Set(suite.actionTests.map((t) => t.action))].sort();
    assert.deepEqual(
      covered,
      rolloutActionNames().filter((a) => a !== 'pause'),
    );
  });
});

describe('running the scripts as Argo CD does', () => {
  const live = load(ACTIONS, 'testdata/has_pause_condition_rollout.yaml');
  it('a script error is reported with the script it came from', () => {
    const [outcome] = runRolloutLua([{ kind: 'discovery', obj: { metadata: {}, spec: {} } }]);
    assert.equal(outcome?.ok, false);
    assert.match(
      outcome?.ok === false ? outcome.error : '',
      /^actions\/discovery\.lua:\d+: attempt to index field 'strategy'/,
    );
  });
  it('an empty object the script passed through comes back as an object, not a list', () => {
    const withEmpty = structuredClone(live) as Obj & { spec: Obj };
    withEmpty.spec.template = { metadata: {}, spec: { containers: [{ name: 'a', resources: {} }] } };
    const out = runRolloutAction(withEmpty, 'pause') as { spec: Obj };
    assert.deepEqual(out.spec.template, withEmpty.spec.template);
    assert.deepEqual(actionPatches(withEmpty, 'pause'), {
      main: { spec: { paused: true } },
      unified: { spec: { paused: true } },
    });
  });
  it('null fields of the live object are absent (nil) for the script', () => {
    // with pauseConditions nil, discovery reads spec.paused instead (and table.getn of a non-table would fail)
    const withNull = { ...structuredClone(live), status: { ...(live.status as Obj), pauseConditions: null } };
    assert.equal(discoverRolloutActions(withNull).resume?.disabled, true);
    assert.equal(discoverRolloutActions(live).resume?.disabled, false);
  });
  it('reads results as Argo CD does', () => {
    assert.equal(healthFromLua(null), undefined);
    assert.deepEqual(healthFromLua([]), { status: '', message: '' });
    assert.deepEqual(healthFromLua({ status: 'Suspended' }), { status: 'Suspended', message: '' });
    assert.deepEqual(actionsFromLua([]), {});
    assert.deepEqual(
      actionsFromLua({ a: [], b: { disabled: 'yes' }, c: { disabled: true, displayName: 'C' } }),
      {
        a: { disabled: false },
        b: { disabled: false },
        c: { disabled: true, displayName: 'C' },
      },
    );
    assert.deepEqual(
      restoreEmptyObjects({ a: [], b: [{ c: [] }], d: [] }, { a: {}, b: [{ c: {} }], d: [] }),
      {
        a: {},
        b: [{ c: {} }],
        d: [],
      },
    );
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
    const both = structuredClone(live) as Obj & { spec: Obj };
    both.spec.paused = true;
    const patches = actionPatches(both, 'resume', now);
    assert.deepEqual(patches.status, { spec: { paused: false }, status: { pauseConditions: null } });
    assert.deepEqual(patches.main, { spec: { paused: false } });
  });
  it('retry nulls status.abort', () => {
    const aborted = load(ACTIONS, 'testdata/aborted_rollout.yaml');
    // the live object's `creationTimestamp: null` never reaches Lua (null is nil), so Argo CD's
    // merge patch from the live object to the script's result nulls it too, harmlessly
    const nulled = { spec: { template: { metadata: { creationTimestamp: null } } } };
    assert.deepEqual(actionPatches(aborted, 'retry', now), {
      status: { ...nulled, status: { abort: null } },
      main: nulled,
      unified: { ...nulled, status: { abort: null } },
    });
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
