import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { V1ReplicaSet } from '@kubernetes/client-node';
import type { IntOrString, Rollout, SetCanaryScale, TrafficWeights } from '../../../src/api/types.ts';
import {
  approximateWeightedCounts,
  atDesiredReplicaCounts,
  basicCanaryCounts,
  trafficRoutedCounts,
  weightToReplicas,
} from '../../../src/rollout/replicas.ts';

interface RolloutOpts {
  replicas: number;
  setWeight?: number;
  maxSurge?: IntOrString;
  maxUnavailable?: IntOrString;
  setCanaryScale?: SetCanaryScale;
  trafficRouting?: boolean;
  promoteFull?: boolean;
  abort?: boolean;
  abortScaleDownDelaySeconds?: number;
  minPodsPerReplicaSet?: number;
  dynamicStableScale?: boolean;
  maxTrafficWeight?: number;
}

/** A canary mid-update (current hash "canary", stable hash "stable") at a single step. */
function rollout(o: RolloutOpts): Rollout {
  return {
    metadata: { name: 'r' },
    spec: {
      replicas: o.replicas,
      strategy: {
        canary: {
          maxSurge: o.maxSurge,
          maxUnavailable: o.maxUnavailable,
          steps: [{ setWeight: o.setWeight, setCanaryScale: o.setCanaryScale }],
          trafficRouting: o.trafficRouting
            ? { nginx: { stableIngress: 'i' }, maxTrafficWeight: o.maxTrafficWeight }
            : undefined,
          abortScaleDownDelaySeconds: o.abortScaleDownDelaySeconds,
          minPodsPerReplicaSet: o.minPodsPerReplicaSet,
          dynamicStableScale: o.dynamicStableScale,
        },
      },
    },
    status: { stableRS: 'stable', currentPodHash: 'canary', promoteFull: o.promoteFull, abort: o.abort },
  };
}

function rs(hash: string, spec: number, available: number, replicas = spec): V1ReplicaSet {
  return {
    metadata: { name: hash, labels: { 'rollouts-pod-template-hash': hash } },
    spec: { replicas: spec, selector: {} },
    status: { replicas, availableReplicas: available },
  };
}

// Cases from Argo's TestCalculateReplicaCountsForCanary (utils/replicaset/canary_test.go)
const BASIC: {
  name: string;
  o: RolloutOpts;
  stable: [spec: number, available: number];
  canary: [spec: number, available: number];
  older?: [spec: number, available: number];
  want: { stable: number; canary: number };
}[] = [
  {
    name: 'do not count extra available pods when spec < available',
    o: { replicas: 10, setWeight: 100, maxSurge: 3, maxUnavailable: 0 },
    stable: [7, 8],
    canary: [6, 3],
    want: { stable: 7, canary: 6 },
  },
  {
    name: 'maxSurge int scales up the canary',
    o: { replicas: 10, setWeight: 20, maxSurge: 2, maxUnavailable: 0 },
    stable: [10, 10],
    canary: [0, 0],
    want: { stable: 10, canary: 2 },
  },
  {
    name: 'maxSurge percent scales up the canary',
    o: { replicas: 10, setWeight: 20, maxSurge: '20%', maxUnavailable: 0 },
    stable: [10, 10],
    canary: [0, 0],
    want: { stable: 10, canary: 2 },
  },
  {
    name: 'scale down extra stable replicas',
    o: { replicas: 10, setWeight: 20, maxSurge: '20%', maxUnavailable: 0 },
    stable: [10, 10],
    canary: [2, 2],
    want: { stable: 8, canary: 2 },
  },
  {
    name: 'do not go past maxSurge',
    o: { replicas: 10, setWeight: 30, maxSurge: 2, maxUnavailable: 0 },
    stable: [10, 10],
    canary: [0, 0],
    want: { stable: 10, canary: 2 },
  },
  {
    name: 'maxUnavailable int scales down the stable',
    o: { replicas: 10, setWeight: 20, maxSurge: 0, maxUnavailable: 2 },
    stable: [10, 10],
    canary: [0, 0],
    want: { stable: 8, canary: 0 },
  },
  {
    name: 'maxUnavailable percent scales down the stable',
    o: { replicas: 10, setWeight: 20, maxSurge: 0, maxUnavailable: '20%' },
    stable: [10, 10],
    canary: [0, 0],
    want: { stable: 8, canary: 0 },
  },
  {
    name: 'do not go past maxUnavailable',
    o: { replicas: 10, setWeight: 30, maxSurge: 0, maxUnavailable: 2 },
    stable: [10, 10],
    canary: [0, 0],
    want: { stable: 8, canary: 0 },
  },
  {
    name: 'maxSurge and maxUnavailable together',
    o: { replicas: 10, setWeight: 50, maxSurge: 2, maxUnavailable: 1 },
    stable: [10, 10],
    canary: [0, 0],
    want: { stable: 9, canary: 2 },
  },
  {
    name: 'setWeight 0 scales the canary to zero',
    o: { replicas: 10, setWeight: 0, maxSurge: 1, maxUnavailable: 1 },
    stable: [10, 10],
    canary: [1, 1],
    want: { stable: 10, canary: 0 },
  },
  {
    name: 'setWeight 100 scales the stable to zero',
    o: { replicas: 10, setWeight: 100, maxSurge: 1, maxUnavailable: 1 },
    stable: [1, 1],
    canary: [10, 10],
    want: { stable: 0, canary: 10 },
  },
  {
    name: 'a non-zero weight never leaves the canary at zero',
    o: { replicas: 1, setWeight: 20, maxSurge: 1, maxUnavailable: 0 },
    stable: [1, 1],
    canary: [0, 0],
    want: { stable: 1, canary: 1 },
  },
  {
    name: 'a weight below 100 keeps the stable',
    o: { replicas: 1, setWeight: 90, maxSurge: 1, maxUnavailable: 0 },
    stable: [1, 1],
    canary: [0, 0],
    want: { stable: 1, canary: 1 },
  },
  {
    name: 'stable scales up before the canary',
    o: { replicas: 10, setWeight: 30, maxSurge: 1, maxUnavailable: 0 },
    stable: [1, 1],
    canary: [0, 0],
    older: [3, 3],
    want: { stable: 7, canary: 1 },
  },
  {
    name: 'scale down canary and stable',
    o: { replicas: 10, setWeight: 30, maxSurge: 0, maxUnavailable: 3 },
    stable: [8, 5],
    canary: [4, 4],
    want: { stable: 7, canary: 3 },
  },
  {
    name: 'scale down stable while the canary becomes available',
    o: { replicas: 10, setWeight: 100, maxSurge: 1, maxUnavailable: 0 },
    stable: [10, 2],
    canary: [10, 8],
    want: { stable: 2, canary: 9 },
  },
  {
    name: 'older ReplicaSets go first',
    o: { replicas: 10, setWeight: 30, maxSurge: 0, maxUnavailable: 1 },
    stable: [8, 6],
    canary: [4, 2],
    older: [3, 3],
    want: { stable: 8, canary: 4 },
  },
  {
    name: 'uneven weight does not round past maxSurge',
    o: { replicas: 10, setWeight: 5, maxSurge: 0, maxUnavailable: 1 },
    stable: [10, 10],
    canary: [0, 0],
    want: { stable: 9, canary: 0 },
  },
  {
    name: 'uneven weight does not round past maxSurge (part 2)',
    o: { replicas: 10, setWeight: 5, maxSurge: 0, maxUnavailable: 1 },
    stable: [9, 9],
    canary: [0, 0],
    want: { stable: 9, canary: 1 },
  },
  {
    name: 'percentages resolving to 0 make maxUnavailable 1',
    o: { replicas: 10, setWeight: 10, maxSurge: '0%', maxUnavailable: '0%' },
    stable: [10, 10],
    canary: [0, 0],
    want: { stable: 9, canary: 0 },
  },
  {
    name: 'setCanaryScale is ignored without traffic routing',
    o: {
      replicas: 10,
      setWeight: 20,
      maxSurge: '20%',
      maxUnavailable: 0,
      setCanaryScale: { replicas: 9, weight: 100 },
    },
    stable: [10, 10],
    canary: [0, 0],
    want: { stable: 10, canary: 2 },
  },
  {
    name: 'maxSurge honoured while the stable is unavailable',
    o: { replicas: 4, setWeight: 100, maxSurge: 1, maxUnavailable: 0 },
    stable: [4, 1],
    canary: [0, 0],
    want: { stable: 4, canary: 1 },
  },
  {
    name: 'scale down to maxUnavailable without exceeding maxSurge',
    o: { replicas: 3, setWeight: 99, maxSurge: 0, maxUnavailable: 2 },
    stable: [3, 3],
    canary: [0, 0],
    want: { stable: 1, canary: 0 },
  },
  {
    name: 'scale down to maxUnavailable without exceeding maxSurge (part 2)',
    o: { replicas: 3, setWeight: 99, maxSurge: 0, maxUnavailable: 2 },
    stable: [1, 1],
    canary: [0, 0],
    want: { stable: 1, canary: 2 },
  },
  {
    name: 'maxUnavailable honoured while the stable is unavailable',
    o: { replicas: 4, setWeight: 100, maxSurge: 1, maxUnavailable: 0 },
    stable: [4, 1],
    canary: [1, 1],
    want: { stable: 3, canary: 1 },
  },
  {
    name: 'reducing the weight surges the stable first',
    o: { replicas: 4, setWeight: 0, maxSurge: 1, maxUnavailable: 0 },
    stable: [0, 0],
    canary: [4, 4],
    want: { stable: 1, canary: 4 },
  },
  {
    name: 'reducing the weight waits for the surged stable',
    o: { replicas: 4, setWeight: 0, maxSurge: 1, maxUnavailable: 0 },
    stable: [1, 0],
    canary: [4, 4],
    want: { stable: 1, canary: 4 },
  },
  {
    name: 'reducing the weight removes one canary pod per available stable pod',
    o: { replicas: 4, setWeight: 0, maxSurge: 1, maxUnavailable: 0 },
    stable: [1, 1],
    canary: [4, 4],
    want: { stable: 1, canary: 3 },
  },
  {
    name: 'promote full ignores the weight',
    o: { replicas: 4, setWeight: 1, maxSurge: 4, maxUnavailable: 4, promoteFull: true },
    stable: [4, 4],
    canary: [0, 0],
    want: { stable: 0, canary: 4 },
  },
  {
    name: 'promote full still honours maxSurge and maxUnavailable',
    o: { replicas: 4, setWeight: 1, maxSurge: 3, maxUnavailable: 0, promoteFull: true },
    stable: [4, 4],
    canary: [0, 0],
    want: { stable: 4, canary: 3 },
  },
];

describe('basic canary replica counts (Argo TestCalculateReplicaCountsForCanary)', () => {
  for (const c of BASIC) {
    it(c.name, () => {
      const older = c.older ? [rs('older', c.older[0], c.older[1])] : [];
      const got = basicCanaryCounts(
        rollout(c.o),
        rs('canary', c.canary[0], c.canary[1]),
        rs('stable', c.stable[0], c.stable[1]),
        older,
      );
      assert.deepEqual(got, c.want);
    });
  }
  it('new deployment (stable is the new ReplicaSet) goes to full size', () => {
    const r = rollout({ replicas: 10, setWeight: 10, maxSurge: 0, maxUnavailable: 1 });
    const same = rs('stable', 10, 0);
    assert.deepEqual(basicCanaryCounts(r, same, same, []), { canary: 10, stable: 0 });
  });
  it('no stable ReplicaSet: the new one goes to full size', () => {
    const r = rollout({ replicas: 10, setWeight: 10, maxSurge: 0, maxUnavailable: 1 });
    assert.deepEqual(basicCanaryCounts(r, rs('canary', 9, 9), undefined, []), { canary: 10, stable: 0 });
  });
});

describe('traffic-routed replica counts', () => {
  const cases: {
    name: string;
    o: RolloutOpts;
    weights?: TrafficWeights;
    want: { canary: number; stable: number };
  }[] = [
    {
      name: 'canary from setWeight, stable stays full',
      o: { replicas: 10, setWeight: 10, trafficRouting: true },
      want: { canary: 1, stable: 10 },
    },
    {
      name: 'rounds up',
      o: { replicas: 3, setWeight: 10, trafficRouting: true },
      want: { canary: 1, stable: 3 },
    },
    {
      name: 'setCanaryScale.replicas overrides setWeight',
      o: { replicas: 1, setWeight: 100, trafficRouting: true, setCanaryScale: { replicas: 9 } },
      want: { canary: 9, stable: 1 },
    },
    {
      name: 'setCanaryScale.weight overrides setWeight',
      o: { replicas: 4, setWeight: 100, trafficRouting: true, setCanaryScale: { weight: 200 } },
      want: { canary: 8, stable: 4 },
    },
    {
      name: 'matchTrafficWeight cancels setCanaryScale',
      o: {
        replicas: 10,
        setWeight: 20,
        trafficRouting: true,
        setCanaryScale: { replicas: 9, weight: 100, matchTrafficWeight: true },
      },
      want: { canary: 2, stable: 10 },
    },
    {
      name: 'abort ignores setCanaryScale when the canary is scaled down on abort',
      o: {
        replicas: 1,
        trafficRouting: true,
        setCanaryScale: { replicas: 1 },
        abort: true,
        abortScaleDownDelaySeconds: 30,
      },
      want: { canary: 0, stable: 1 },
    },
    {
      name: 'abort keeps setCanaryScale with abortScaleDownDelaySeconds: 0',
      o: {
        replicas: 1,
        trafficRouting: true,
        setCanaryScale: { replicas: 1 },
        abort: true,
        abortScaleDownDelaySeconds: 0,
      },
      want: { canary: 1, stable: 1 },
    },
    {
      name: 'minPodsPerReplicaSet raises a small canary',
      o: { replicas: 10, setWeight: 5, trafficRouting: true, minPodsPerReplicaSet: 2 },
      want: { canary: 2, stable: 10 },
    },
    {
      name: 'minPodsPerReplicaSet is capped at spec.replicas',
      o: { replicas: 2, setWeight: 5, trafficRouting: true, minPodsPerReplicaSet: 5 },
      want: { canary: 2, stable: 2 },
    },
    {
      name: 'minPodsPerReplicaSet leaves 0 at 0',
      o: { replicas: 10, setWeight: 0, trafficRouting: true, minPodsPerReplicaSet: 2 },
      want: { canary: 0, stable: 10 },
    },
    {
      name: 'maxTrafficWeight scales the weight',
      o: { replicas: 10, setWeight: 150, trafficRouting: true, maxTrafficWeight: 1000 },
      want: { canary: 2, stable: 10 },
    },
    {
      name: 'promoteFull: canary at full size',
      o: { replicas: 5, setWeight: 10, trafficRouting: true, promoteFull: true },
      want: { canary: 5, stable: 5 },
    },
    {
      name: 'dynamic: stable shrinks with the routed weight',
      o: { replicas: 10, setWeight: 10, trafficRouting: true, dynamicStableScale: true },
      weights: { canary: { weight: 10 }, stable: { weight: 90 } },
      want: { canary: 1, stable: 9 },
    },
    {
      name: 'dynamic: stable keeps what its current weight needs',
      o: { replicas: 10, setWeight: 20, trafficRouting: true, dynamicStableScale: true },
      weights: { canary: { weight: 10 }, stable: { weight: 90 } },
      want: { canary: 2, stable: 9 },
    },
    {
      name: 'dynamic abort: canary keeps pods while it still has traffic',
      o: { replicas: 10, setWeight: 20, trafficRouting: true, dynamicStableScale: true, abort: true },
      weights: { canary: { weight: 20 }, stable: { weight: 80 } },
      want: { canary: 2, stable: 10 },
    },
    {
      name: 'dynamic abort: canary follows its traffic down',
      o: { replicas: 10, setWeight: 20, trafficRouting: true, dynamicStableScale: true, abort: true },
      weights: { canary: { weight: 10 }, stable: { weight: 90 } },
      want: { canary: 1, stable: 10 },
    },
  ];
  for (const c of cases)
    it(c.name, () => assert.deepEqual(trafficRoutedCounts(rollout(c.o), c.weights), c.want));
});

describe('approximateWeightedCounts (Argo TestApproximateWeightedNewStableReplicaCounts)', () => {
  // [replicas, weight, maxSurge, canary, stable]
  const table: [number, number, number, number, number][] = [
    [0, 0, 0, 0, 0],
    [0, 50, 0, 0, 0],
    [0, 100, 0, 0, 0],
    [0, 0, 1, 0, 0],
    [0, 50, 1, 0, 0],
    [0, 100, 1, 0, 0],
    [1, 0, 0, 0, 1],
    [1, 1, 0, 0, 1],
    [1, 49, 0, 0, 1],
    [1, 50, 0, 1, 0],
    [1, 99, 0, 1, 0],
    [1, 100, 0, 1, 0],
    [1, 0, 1, 0, 1],
    [1, 1, 1, 1, 1],
    [1, 49, 1, 1, 1],
    [1, 50, 1, 1, 1],
    [1, 99, 1, 1, 1],
    [1, 100, 1, 1, 0],
    [2, 0, 0, 0, 2],
    [2, 1, 0, 1, 1],
    [2, 50, 0, 1, 1],
    [2, 99, 0, 1, 1],
    [2, 100, 0, 2, 0],
    [2, 0, 1, 0, 2],
    [2, 1, 1, 1, 2],
    [2, 50, 1, 1, 1],
    [2, 99, 1, 2, 1],
    [2, 100, 1, 2, 0],
    [3, 10, 0, 1, 2],
    [3, 25, 0, 1, 2],
    [3, 33, 0, 1, 2],
    [3, 34, 0, 1, 2],
    [3, 49, 0, 1, 2],
    [3, 50, 0, 2, 1],
    [3, 10, 1, 1, 3],
    [3, 25, 1, 1, 3],
    [3, 33, 1, 1, 2],
    [3, 34, 1, 1, 2],
    [3, 49, 1, 2, 2],
    [3, 50, 1, 2, 2],
    [10, 0, 1, 0, 10],
    [10, 1, 0, 1, 9],
    [10, 14, 0, 1, 9],
    [10, 15, 0, 2, 8],
    [10, 16, 0, 2, 8],
    [10, 99, 0, 9, 1],
    [10, 100, 1, 10, 0],
    [10, 1, 1, 1, 10],
    [10, 18, 1, 2, 9],
    [10, 19, 1, 2, 9],
    [10, 20, 1, 2, 8],
    [10, 23, 1, 2, 8],
    [10, 24, 1, 3, 8],
    [10, 25, 1, 3, 8],
    [10, 99, 1, 10, 1],
  ];
  for (const [replicas, weight, surge, canary, stable] of table) {
    it(`replicas ${replicas}, weight ${weight}, surge ${surge} → ${canary}/${stable}`, () =>
      assert.deepEqual(approximateWeightedCounts(replicas, weight, surge), { canary, stable }));
  }
});

describe('weightToReplicas (Argo TestTrafficWeightToReplicas)', () => {
  const table: [number, number][] = [
    [0, 0],
    [20, 2],
    [25, 3],
    [33, 4],
    [99, 10],
    [100, 10],
  ];
  for (const [weight, want] of table)
    it(`10 replicas at ${weight}% → ${want}`, () => assert.equal(weightToReplicas(10, weight), want));
});

describe('atDesiredReplicaCounts', () => {
  const tr = rollout({ replicas: 4, setWeight: 25, trafficRouting: true });
  const basic = rollout({ replicas: 4, setWeight: 25, maxSurge: 1, maxUnavailable: 0 });
  const cases: [string, Rollout, V1ReplicaSet, V1ReplicaSet, V1ReplicaSet[], boolean][] = [
    ['router: canary available, stable full', tr, rs('canary', 1, 1), rs('stable', 4, 4), [], true],
    ['router: canary not yet available', tr, rs('canary', 1, 0), rs('stable', 4, 4), [], false],
    ['router: canary not yet scaled', tr, rs('canary', 0, 0), rs('stable', 4, 4), [], false],
    ['router: stable pods not yet created', tr, rs('canary', 1, 1), rs('stable', 4, 4, 3), [], false],
    [
      'router: older ReplicaSets may keep pods',
      tr,
      rs('canary', 1, 1),
      rs('stable', 4, 4),
      [rs('old', 2, 2)],
      true,
    ],
    ['basic: canary 1 and stable 3', basic, rs('canary', 1, 1), rs('stable', 3, 3), [], true],
    ['basic: stable still at 4', basic, rs('canary', 1, 1), rs('stable', 4, 4), [], false],
    [
      'basic: older ReplicaSet still serving',
      basic,
      rs('canary', 1, 1),
      rs('stable', 3, 3),
      [rs('old', 0, 1)],
      false,
    ],
  ];
  for (const [name, r, canary, stable, others, want] of cases) {
    it(name, () => assert.equal(atDesiredReplicaCounts(r, canary, stable, others, undefined), want));
  }
  it('dynamicStableScale does not wait for the stable', () => {
    const r = rollout({ replicas: 4, setWeight: 25, trafficRouting: true, dynamicStableScale: true });
    assert.equal(atDesiredReplicaCounts(r, rs('canary', 1, 1), rs('stable', 4, 4, 2), [], undefined), true);
  });
});
