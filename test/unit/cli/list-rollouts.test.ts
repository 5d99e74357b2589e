import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  renderRolloutList,
  renderRolloutListLine,
  rolloutRow,
  sameRow,
} from '../../../src/cli/render/list.ts';
import type { Rollout } from '../../../src/client/types.ts';
import { assertGolden, loadInfoFixtures } from './support.ts';

// The two rollouts of upstream's list tests (cmd/list/list_test.go), rebuilt here.
const canary: Rollout = {
  metadata: { name: 'can-guestbook', namespace: 'test' },
  spec: {
    replicas: 5,
    strategy: { canary: { steps: [{ setWeight: 10 }, { pause: { duration: 60 } }, { setWeight: 20 }] } },
  },
  status: { currentStepIndex: 1, replicas: 4, readyReplicas: 1, updatedReplicas: 3, availableReplicas: 2 },
};
const blueGreen: Rollout = {
  metadata: { name: 'bg-guestbook', namespace: 'test' },
  spec: { replicas: 5, strategy: { blueGreen: {} } },
  status: { currentStepIndex: 1, replicas: 4, readyReplicas: 1, updatedReplicas: 3, availableReplicas: 2 },
};

function allFixtureRollouts(): Rollout[] {
  return [
    'canary',
    'blue-green',
    'experiment-analysis',
    'experiment-step',
    'rollout-aborted',
    'rollout-invalid',
  ]
    .flatMap((folder) => loadInfoFixtures(folder).rollouts)
    .sort(
      (a, b) =>
        (a.metadata.namespace ?? '').localeCompare(b.metadata.namespace ?? '') ||
        (a.metadata.name ?? '').localeCompare(b.metadata.name ?? ''),
    );
}

describe('list rollouts output', () => {
  it('a canary row has the upstream columns and values', () => {
    assert.equal(
      renderRolloutList([rolloutRow(canary)], { allNamespaces: false }),
      'NAME           STRATEGY   STATUS        STEP  SET-WEIGHT  READY  DESIRED  UP-TO-DATE  AVAILABLE\n' +
        'can-guestbook  Canary     Progressing   1/3   10          1/4    5        3           2\n',
    );
  });

  it('a blue-green row shows - for step and weight', () => {
    assert.equal(
      renderRolloutList([rolloutRow(blueGreen)], { allNamespaces: false }),
      'NAME          STRATEGY   STATUS        STEP  SET-WEIGHT  READY  DESIRED  UP-TO-DATE  AVAILABLE\n' +
        'bg-guestbook  BlueGreen  Progressing   -     -           1/4    5        3           2\n',
    );
  });

  it('-A and --timestamps add leading columns', () => {
    const out = renderRolloutList([rolloutRow(canary)], {
      allNamespaces: true,
      timestamp: '2026-01-15T12:00:00Z',
    });
    assert.match(out, /^TIMESTAMP {13}NAMESPACE {2}NAME {11}STRATEGY/);
    assert.match(out, /2026-01-15T12:00:00Z {2}test {7}can-guestbook {2}Canary {5}Progressing {3}1\/3/);
  });

  it('snapshot: every rollout of the info fixtures, all namespaces', () => {
    const rows = allFixtureRollouts().map(rolloutRow);
    assertGolden('list-rollouts-all-namespaces.txt', renderRolloutList(rows, { allNamespaces: true }));
  });

  it('snapshot: one namespace', () => {
    const rows = allFixtureRollouts()
      .filter((r) => r.metadata.namespace === 'jesse-test')
      .map(rolloutRow);
    assertGolden('list-rollouts-namespace.txt', renderRolloutList(rows, { allNamespaces: false }));
  });

  it('watch lines line up with the table printed before them', () => {
    const rows = [rolloutRow(blueGreen), rolloutRow(canary)];
    const table = renderRolloutList(rows, { allNamespaces: false });
    const changed = rolloutRow({ ...canary, status: { ...canary.status, availableReplicas: 3 } });
    assert.equal(sameRow(changed, rows[1] as never), false);
    assert.equal(sameRow(rolloutRow(canary), rows[1] as never), true);
    const line = renderRolloutListLine(changed, rows, { allNamespaces: false });
    assert.equal(
      line,
      'can-guestbook  Canary     Progressing   1/3   10          1/4    5        3           3\n',
    );
    assert.equal(table.split('\n')[2]?.indexOf('Canary'), line.indexOf('Canary'));
  });
});
