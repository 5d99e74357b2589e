import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import {
  countReasons,
  diff,
  type EventObj,
  eventReasons,
  excused,
  flatten,
  globToRegExp,
  hashDifferences,
  hashesByRevision,
  type KubeObj,
  markRepeat,
  normalise,
  normaliseGet,
  type Observed,
  parseDeliberate,
  parseEventLogLine,
  type Recorded,
  readDeliberate,
} from '../../support/parity.ts';

const rs = (hash: string, rev: string, replicas: number): KubeObj => ({
  metadata: {
    name: `tomozo-${hash}`,
    uid: `uid-${hash}`,
    resourceVersion: '42',
    creationTimestamp: '2026-01-01T00:00:00Z',
    labels: { app: 'tomozo', 'rollouts-pod-template-hash': hash },
    annotations: { 'rollout.argoproj.io/revision': rev },
    ownerReferences: [
      {
        apiVersion: 'argoproj.io/v1alpha1',
        kind: 'Rollout',
        name: 'tomozo',
        uid: 'ro-uid',
        controller: true,
      },
    ],
  },
  spec: { replicas },
});

const observed = (hash: string, over: Partial<Observed> = {}): Observed => ({
  rollout: {
    metadata: { name: 'tomozo', uid: 'x', annotations: { 'rollout.argoproj.io/revision': '1' } },
    status: {
      phase: 'Healthy',
      stableRS: hash,
      conditions: [
        {
          type: 'Available',
          status: 'True',
          reason: 'AvailableReason',
          message: 'Rollout has minimum availability',
          lastUpdateTime: '2026-01-01T00:00:01Z',
        },
        {
          type: 'Progressing',
          status: 'True',
          reason: 'NewReplicaSetAvailable',
          message: `ReplicaSet "tomozo-${hash}" has successfully progressed.`,
        },
      ],
    },
  },
  replicaSets: [rs(hash, '1', 10)],
  services: [
    { metadata: { name: 'tomozo-stable' }, spec: { clusterIP: '10.0.0.1', selector: { app: 'tomozo' } } },
  ],
  ingresses: [],
  ...over,
});

describe('parity normalisation', () => {
  it('maps hashes to revisions and drops run-specific metadata, so two runs with different hashes compare equal', () => {
    const a = normalise(observed('5774b9cb5'), {});
    const b = normalise(observed('7b8f8d84df'), {});
    assert.deepEqual(diff(a, b), []);
    assert.equal(a['Rollout/status/stableRS'], '"<rev1>"');
    assert.equal(a['ReplicaSet/tomozo-<rev1>/spec/replicas'], '10');
    assert.equal(
      a['Rollout/status/conditions/Progressing/message'],
      '"ReplicaSet \\"tomozo-<rev1>\\" has successfully progressed."',
    );
    assert.equal(a['Rollout/status/conditions/Available/lastUpdateTime'], '"<time>"');
    assert.equal(a['ReplicaSet/tomozo-<rev1>/metadata/ownerReferences/Rollout:tomozo/uid'], undefined);
    assert.equal(a['Service/tomozo-stable/selector/app'], '"tomozo"');
    assert.ok(!Object.keys(a).some((k) => k.includes('clusterIP') || k.includes('resourceVersion')));
  });

  it('compares AnalysisRuns by their name with the hash symbolised: labels, owners, spec, status; times and uids dropped', () => {
    const run = (hash: string, phase: string) => ({
      metadata: {
        name: `tomozo-${hash}-1`,
        uid: `uid-${hash}`,
        labels: { 'rollouts-pod-template-hash': hash, 'rollout-type': 'Background' },
        ownerReferences: [{ kind: 'Rollout', name: 'tomozo', uid: 'x', controller: true }],
      },
      spec: { args: [{ name: 'hash', value: hash }] },
      status: { phase, startedAt: '2026-01-01T00:00:02Z' },
    });
    const a = normalise(observed('h1', { analysisRuns: [run('h1', 'Successful')] }), {});
    const b = normalise(observed('h2', { analysisRuns: [run('h2', 'Successful')] }), {});
    assert.deepEqual(diff(a, b), []);
    assert.equal(a['AnalysisRun/tomozo-<rev1>-1/metadata/labels/rollouts-pod-template-hash'], '"<rev1>"');
    assert.equal(a['AnalysisRun/tomozo-<rev1>-1/spec/args/hash/value'], '"<rev1>"');
    assert.equal(a['AnalysisRun/tomozo-<rev1>-1/status/startedAt'], '"<time>"');
    assert.equal(a['AnalysisRun/tomozo-<rev1>-1/metadata/ownerReferences/Rollout:tomozo/uid'], undefined);
    const failed = normalise(observed('h2', { analysisRuns: [run('h2', 'Failed')] }), {});
    assert.deepEqual(diff(a, failed), [
      { path: 'AnalysisRun/tomozo-<rev1>-1/status/phase', argo: '"Successful"', kanary: '"Failed"' },
    ]);
  });

  it('reports each field that differs or exists on one side only', () => {
    const a = normalise(observed('h1'), {});
    const other = observed('h1');
    (other.rollout.status as Record<string, unknown>).phase = 'Progressing';
    (other.rollout.status as Record<string, unknown>).message = 'more replicas need to be updated';
    const d = diff(a, normalise(other, {}), 'healthy/');
    assert.deepEqual(d, [
      {
        path: 'healthy/Rollout/status/message',
        argo: undefined,
        kanary: '"more replicas need to be updated"',
      },
      { path: 'healthy/Rollout/status/phase', argo: '"Healthy"', kanary: '"Progressing"' },
    ]);
  });

  it('keys conditions by type, so a different order is no difference', () => {
    const x = {
      conditions: [
        { type: 'A', status: 'True' },
        { type: 'B', status: 'False' },
      ],
    };
    const y = {
      conditions: [
        { type: 'B', status: 'False' },
        { type: 'A', status: 'True' },
      ],
    };
    assert.deepEqual(diff(flatten(x, 's', {}), flatten(y, 's', {})), []);
  });

  it('counts Events of the rollout controller since the previous stopping point, by kind, type and reason', () => {
    const ev = (uid: string, reason: string, count: number, kind = 'Rollout'): EventObj => ({
      metadata: { uid },
      reason,
      type: 'Normal',
      count,
      involvedObject: { kind, name: 'x' },
      source: { component: kind === 'Rollout' ? 'rollouts-controller' : 'replicaset-controller' },
    });
    const events = [
      ev('1', 'RolloutUpdated', 1),
      ev('2', 'ScalingReplicaSet', 3),
      ev('3', 'SuccessfulCreate', 5, 'ReplicaSet'),
    ];
    assert.deepEqual(eventReasons(events, new Map([['2', 1]])), {
      'Rollout/Normal/RolloutUpdated': 1,
      'Rollout/Normal/ScalingReplicaSet': 2,
    });
  });

  it("reads the Events Argo's controller logs (client-go's event logging), quotes escaped or not", () => {
    const line =
      'time="2026-12-02T16:50:39Z" level=info msg="Event(v1.ObjectReference{Kind:\\"Rollout\\", Namespace:\\"ns\\", Name:\\"tomozo\\", UID:\\"u\\", APIVersion:\\"argoproj.io/v1alpha1\\", ResourceVersion:\\"1\\", FieldPath:\\"\\"}): type: \'Normal\' reason: \'ScalingReplicaSet\' Scaled down ReplicaSet tomozo-84fcfdb58f (revision 2) from 10 to 0"';
    assert.deepEqual(parseEventLogLine(line), {
      kind: 'Rollout',
      type: 'Normal',
      reason: 'ScalingReplicaSet',
      message: 'Scaled down ReplicaSet tomozo-84fcfdb58f (revision 2) from 10 to 0',
      at: Date.parse('2026-12-02T16:50:39Z'),
    });
    assert.deepEqual(
      parseEventLogLine(
        `Event(v1.ObjectReference{Kind:"Rollout", Name:"x"}): type: 'Warning' reason: 'RolloutAborted' x`,
      ),
      { kind: 'Rollout', type: 'Warning', reason: 'RolloutAborted', message: 'x' },
    );
    assert.equal(parseEventLogLine('time="x" level=info msg="Started syncing rollout"'), undefined);
    assert.deepEqual(
      countReasons([
        { kind: 'Rollout', type: 'Normal', reason: 'A' },
        { kind: 'Rollout', type: 'Normal', reason: 'A' },
      ]),
      { 'Rollout/Normal/A': 2 },
    );
  });

  it("does not count Argo's repeated canary Ingress write (same reason and message as the last of that reason, within a second)", () => {
    const seen: Recorded[] = [];
    const push = (reason: string, message: string, at: number) =>
      seen.push(markRepeat(seen, { kind: 'Rollout', type: 'Normal', reason, message, at }));
    push('CreatingCanaryIngress', 'Creating canary ingress `x` with weight `0`', 0);
    push('CreatingCanaryIngress', 'Creating canary ingress `x` with weight `0`', 0); // cache lag: the same write again
    push('PatchingCanaryIngress', 'Updating Ingress `x` to desiredWeight 25', 1000);
    push('PatchingCanaryIngress', 'Updating Ingress `x` to desiredWeight 25', 2000); // again, within a second
    push('PatchingCanaryIngress', 'Updating Ingress `x` to desiredWeight 75', 3000); // a new weight: counted
    push('PatchingCanaryIngress', 'Updating Ingress `x` to desiredWeight 75', 9000); // the same, later: counted
    push('TrafficWeightUpdated', 'Traffic weight updated ', 9000);
    push('TrafficWeightUpdated', 'Traffic weight updated ', 9000); // other reasons repeat for real: counted
    assert.deepEqual(countReasons(seen), {
      'Rollout/Normal/CreatingCanaryIngress': 1,
      'Rollout/Normal/PatchingCanaryIngress': 3,
      'Rollout/Normal/TrafficWeightUpdated': 2,
    });
    // without messages or times nothing is a repeat
    const bare = { kind: 'Rollout', type: 'Normal', reason: 'CreatingCanaryIngress' };
    assert.equal(markRepeat([bare], bare).repeat, undefined);
  });

  it('checks that observedGeneration follows generation, whatever the numbers', () => {
    const o = observed('h1');
    o.rollout.metadata.generation = 2;
    (o.rollout.status as Record<string, unknown>).observedGeneration = '2';
    assert.equal(normalise(o, {})['Rollout/status/observedGeneration==generation'], 'true');
    (o.rollout.status as Record<string, unknown>).observedGeneration = '1';
    assert.equal(normalise(o, {})['Rollout/status/observedGeneration==generation'], 'false');
  });

  it('reports pod-template hashes per revision', () => {
    assert.deepEqual(hashesByRevision([rs('aaa', '1', 0), rs('bbb', '2', 10)]), { '1': 'aaa', '2': 'bbb' });
    assert.deepEqual(hashDifferences({ '1': '5774b9cb5' }, { '1': '7b8f8d84df' }), [
      { path: 'podTemplateHash/rev1', argo: '5774b9cb5', kanary: '7b8f8d84df' },
    ]);
    assert.deepEqual(hashDifferences({ '1': 'a' }, { '1': 'a' }), []);
  });
});

describe('get rollout comparison', () => {
  it('ignores ages and the padding after them, nothing else', () => {
    const a =
      '⟳ tomozo   Rollout  ✔ Healthy  9s   \n└──⧉ tomozo-x  ReplicaSet  • ScaledDown  2m10s  delay:25s\n';
    const b =
      '⟳ tomozo   Rollout  ✔ Healthy  10s  \n└──⧉ tomozo-x  ReplicaSet  • ScaledDown  2m11s  delay:24s\n';
    assert.deepEqual(normaliseGet(a), normaliseGet(b));
    assert.deepEqual(normaliseGet(a), [
      '⟳ tomozo Rollout ✔ Healthy <age>',
      '└──⧉ tomozo-x ReplicaSet • ScaledDown <age> delay:<age>',
    ]);
    assert.notDeepEqual(normaliseGet('Step: 1/2'), normaliseGet('Step: 2/2'));
    assert.notDeepEqual(normaliseGet('ready:1/1'), normaliseGet('ready:0/1'));
  });
});

describe('deliberate differences', () => {
  const doc = [
    '# Title',
    '## Deliberate differences from Argo Rollouts',
    'Some prose.',
    '',
    '| path | reason |',
    '|---|---|',
    '| `*/Rollout/status/foo` | Kanary writes foo because bar |',
    '| `aborted/Events/**` | Events differ on abort |',
    '',
    '## Next',
    '| `not/this` | outside the section |',
  ].join('\n');

  it('reads the table under the heading, and only that table', () => {
    assert.deepEqual(parseDeliberate(doc), [
      { path: '*/Rollout/status/foo', reason: 'Kanary writes foo because bar' },
      { path: 'aborted/Events/**', reason: 'Events differ on abort' },
    ]);
  });

  it('refuses a row without a reason, and a document without the heading', () => {
    assert.throws(
      () => parseDeliberate('## Deliberate differences from Argo Rollouts\n| `a/b` | |\n'),
      /no reason/,
    );
    assert.throws(() => parseDeliberate('# nothing here\n'), /no heading/);
  });

  it('matches paths: * within a segment, ** across segments', () => {
    assert.ok(globToRegExp('*/Rollout/status/foo').test('paused/Rollout/status/foo'));
    assert.ok(!globToRegExp('*/Rollout/status/foo').test('paused/Rollout/status/foo/bar'));
    assert.ok(globToRegExp('aborted/Events/**').test('aborted/Events/Rollout/Normal/X'));
    assert.ok(!globToRegExp('aborted/Events/**').test('paused/Events/Rollout/Normal/X'));
    assert.ok(globToRegExp('*/ReplicaSet/tomozo-<rev1>/spec').test('healthy/ReplicaSet/tomozo-<rev1>/spec'));
    const list = parseDeliberate(doc);
    assert.equal(
      excused({ path: 'healthy/Rollout/status/foo' }, list)?.reason,
      'Kanary writes foo because bar',
    );
    assert.equal(excused({ path: 'healthy/Rollout/status/phase' }, list), undefined);
  });

  it('docs/controller.md has the table, every row with a reason, and never excuses the pod-template hash', () => {
    const list = readDeliberate(join(import.meta.dirname, '..', '..', '..', 'docs', 'controller.md'));
    assert.equal(excused({ path: 'podTemplateHash/rev1' }, list), undefined);
  });
});
