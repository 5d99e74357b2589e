/**
 * What Argo Rollouts injects into the ReplicaSets it runs, as v1.10.2 does it:
 *
 * - canaryMetadata / stableMetadata (rollout/ephemeralmetadata.go): every
 *   pass, the new ReplicaSet carries canaryMetadata while it is a canary and
 *   stableMetadata once it is stable, the stable one stableMetadata, every
 *   other one nothing. Each gets it in its pod template, recorded in its
 *   `rollout.argoproj.io/ephemeral-metadata` annotation (which is how keys
 *   dropped from the spec are found and removed again), and its existing pods
 *   are patched in place — no new ReplicaSet, no new pod.
 * - antiAffinity (utils/replicaset GenerateReplicaSetAffinity): a ReplicaSet
 *   created while the Rollout moves away from a stable ReplicaSet gets a pod
 *   anti-affinity term against the stable's pod-template-hash. Argo rewrites
 *   it only when the new ReplicaSet's annotations are synced and the term names
 *   another stable (a rollback), or on any such sync once the ReplicaSet is
 *   stable (then without the term); promotion alone leaves it in place.
 *
 * Inputs are Argo's own e2e manifest (test/e2e/functional/ephemeral-labels.yaml,
 * also its TestEphemeralMetadata sequence) and the tomozo Rollout.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import type { V1Pod } from '@kubernetes/client-node';
import { parse } from 'yaml';
import { computePodTemplateHash } from '../../../src/api/hash.ts';
import type { Rollout } from '../../../src/api/types.ts';
import { slimPod } from '../../../src/controller/rollout-controller.ts';
import { ephemeralMetadataChanges } from '../../../src/rollout/ephemeral.ts';
import { applyMergePatch } from '../../../src/rollout/json.ts';
import { upstreamPath } from '../../support/upstream.ts';
import { service, tomozoIngress, tomozoRollout } from './fixtures.ts';
import { Sim } from './sim.ts';

const EPHEMERAL = 'rollout.argoproj.io/ephemeral-metadata';
const HASH = 'rollouts-pod-template-hash';

function ephemeralLabels(mutate?: (r: Rollout) => void): Rollout {
  const text = readFileSync(
    upstreamPath('argo-rollouts', 'test/e2e/functional/ephemeral-labels.yaml'),
    'utf8',
  );
  const r = parse(text) as Rollout;
  r.metadata.namespace = 'default';
  mutate?.(r);
  return r;
}
const BLUE = computePodTemplateHash(ephemeralLabels().spec.template);
const yellow = {
  template: { spec: { containers: [{ name: 'ephemeral-label', image: 'argoproj/rollouts-demo:yellow' }] } },
};
/** the hash after `sim.patchSpec(yellow)` (a merge patch: the container list is replaced) */
const YELLOW = computePodTemplateHash(
  (applyMergePatch(ephemeralLabels(), { spec: yellow }) as Rollout).spec.template,
);

const canaryOf = (r: Rollout) =>
  r.spec.strategy?.canary as NonNullable<NonNullable<Rollout['spec']['strategy']>['canary']>;
const metaOf = (pods: V1Pod[]) =>
  pods.map((p) => ({ labels: p.metadata?.labels ?? {}, annotations: p.metadata?.annotations ?? {} }));
const uids = (pods: V1Pod[]) => pods.map((p) => p.metadata?.uid);

/** The labels a pod of that ReplicaSet carries besides the Rollout's own (`app`, the hash). */
function extraLabels(sim: Sim, hash: string): Record<string, string>[] {
  return sim.podsOf(sim.rsByHash(hash)).map((p) => {
    const { app: _app, [HASH]: _hash, ...rest } = p.metadata?.labels ?? {};
    return rest;
  });
}

describe('canaryMetadata / stableMetadata through an update (Argo e2e TestEphemeralMetadata)', () => {
  const sim = new Sim(
    ephemeralLabels((r) => {
      canaryOf(r).canaryMetadata = {
        labels: { role: 'canary' },
        annotations: { 'example.com/track': 'canary' },
      };
      canaryOf(r).stableMetadata = { labels: { role: 'stable' } };
    }),
    undefined,
    { pods: true },
  );
  let canaryUids: (string | undefined)[] = [];
  let stableUids: (string | undefined)[] = [];
  const steps: { name: string; act: () => void; check: () => void }[] = [
    {
      name: 'deploy: the first ReplicaSet is the stable one and carries stableMetadata, in its template and pods',
      act: () => sim.converge(),
      check: () => {
        assert.equal(sim.status.phase, 'Healthy');
        const rs = sim.rsByHash(BLUE);
        assert.deepEqual(rs?.spec?.template?.metadata?.labels, {
          app: 'ephemeral-label',
          [HASH]: BLUE,
          role: 'stable',
        });
        assert.equal(rs?.metadata?.annotations?.[EPHEMERAL], '{"labels":{"role":"stable"}}');
        assert.deepEqual(extraLabels(sim, BLUE), [{ role: 'stable' }, { role: 'stable' }]);
      },
    },
    {
      name: 'update: the canary ReplicaSet and its pods carry canaryMetadata, the stable pods keep stableMetadata',
      act: () => {
        sim.patchSpec(yellow);
        sim.converge();
      },
      check: () => {
        assert.equal(sim.status.message, 'CanaryPauseStep');
        const rs = sim.rsByHash(YELLOW);
        assert.deepEqual(rs?.spec?.template?.metadata?.labels, {
          app: 'ephemeral-label',
          [HASH]: YELLOW,
          role: 'canary',
        });
        assert.deepEqual(rs?.spec?.template?.metadata?.annotations, { 'example.com/track': 'canary' });
        assert.equal(
          rs?.metadata?.annotations?.[EPHEMERAL],
          '{"labels":{"role":"canary"},"annotations":{"example.com/track":"canary"}}',
        );
        assert.deepEqual(metaOf(sim.podsOf(rs)), [
          {
            labels: { app: 'ephemeral-label', [HASH]: YELLOW, role: 'canary' },
            annotations: { 'example.com/track': 'canary' },
          },
        ]);
        assert.deepEqual(extraLabels(sim, BLUE), [{ role: 'stable' }]);
      },
    },
    {
      name: 'canaryMetadata changed (role: null, role2: canary2): the keys that went are removed from the pods in place',
      act: () => {
        canaryUids = uids(sim.podsOf(sim.rsByHash(YELLOW)));
        sim.patchSpec({
          strategy: { canary: { canaryMetadata: { labels: { role: null, role2: 'canary2' } } } },
        });
        sim.converge();
      },
      check: () => {
        assert.deepEqual(extraLabels(sim, YELLOW), [{ role2: 'canary2' }]);
        assert.deepEqual(uids(sim.podsOf(sim.rsByHash(YELLOW))), canaryUids, 'the same pods');
        assert.equal(
          sim.rsByHash(YELLOW)?.metadata?.annotations?.[EPHEMERAL],
          '{"labels":{"role2":"canary2"},"annotations":{"example.com/track":"canary"}}',
        );
      },
    },
    {
      name: 'promote: the same pods now carry stableMetadata instead (no restart, same ReplicaSet and hash)',
      act: () => {
        sim.patchStatus({ pauseConditions: null });
        sim.converge();
      },
      check: () => {
        assert.equal(sim.status.phase, 'Healthy');
        assert.equal(sim.status.stableRS, YELLOW);
        const rs = sim.rsByHash(YELLOW);
        assert.equal(rs?.metadata?.name, `ephemeral-label-${YELLOW}`);
        assert.deepEqual(rs?.spec?.template?.metadata?.labels, {
          app: 'ephemeral-label',
          [HASH]: YELLOW,
          role: 'stable',
        });
        assert.deepEqual(rs?.spec?.template?.metadata?.annotations, {});
        assert.equal(rs?.metadata?.annotations?.[EPHEMERAL], '{"labels":{"role":"stable"}}');
        assert.deepEqual(
          uids(sim.podsOf(rs)).slice(0, canaryUids.length),
          canaryUids,
          'the canary pod is still there',
        );
        assert.deepEqual(metaOf(sim.podsOf(rs)), [
          { labels: { app: 'ephemeral-label', [HASH]: YELLOW, role: 'stable' }, annotations: {} },
          { labels: { app: 'ephemeral-label', [HASH]: YELLOW, role: 'stable' }, annotations: {} },
        ]);
      },
    },
    {
      name: 'the old ReplicaSet, neither canary nor stable, loses what was injected (and its record)',
      act: () => {},
      check: () => {
        const old = sim.rsByHash(BLUE);
        assert.equal(old?.spec?.replicas, 0);
        assert.deepEqual(old?.spec?.template?.metadata?.labels, { app: 'ephemeral-label', [HASH]: BLUE });
        assert.equal(old?.metadata?.annotations?.[EPHEMERAL], undefined);
      },
    },
    {
      name: 'stableMetadata changed (role: null, role2: stable2): stable pods follow in place',
      act: () => {
        stableUids = uids(sim.podsOf(sim.rsByHash(YELLOW)));
        sim.patchSpec({
          strategy: { canary: { stableMetadata: { labels: { role: null, role2: 'stable2' } } } },
        });
        sim.converge();
      },
      check: () => {
        assert.deepEqual(extraLabels(sim, YELLOW), [{ role2: 'stable2' }, { role2: 'stable2' }]);
        assert.deepEqual(uids(sim.podsOf(sim.rsByHash(YELLOW))), stableUids);
        assert.equal(sim.replicaSets.size, 2, 'no new ReplicaSet');
      },
    },
    {
      name: 'settled: a further pass changes nothing (no pod or ReplicaSet patches)',
      act: () => {},
      check: () => assert.deepEqual(sim.step().actions, []),
    },
  ];
  for (const s of steps) {
    it(s.name, () => {
      s.act();
      s.check();
    });
  }
});

describe('ephemeral metadata edge cases', () => {
  it('without canaryMetadata/stableMetadata nothing is injected and no pod is patched', () => {
    const sim = new Sim(
      ephemeralLabels((r) => {
        canaryOf(r).canaryMetadata = undefined;
        canaryOf(r).stableMetadata = undefined;
      }),
      undefined,
      { pods: true },
    );
    sim.converge();
    sim.patchSpec(yellow);
    const plans = sim.converge();
    assert.ok(!plans.some((p) => p.actions.some((a) => a.kind === 'patchPod')));
    for (const rs of sim.replicaSets.values()) assert.equal(rs.metadata?.annotations?.[EPHEMERAL], undefined);
  });

  it('removing both from the spec leaves what was injected (Argo only syncs while one is set)', () => {
    const sim = new Sim(ephemeralLabels(), undefined, { pods: true });
    sim.converge();
    sim.patchSpec({ strategy: { canary: { canaryMetadata: null, stableMetadata: null } } });
    sim.converge();
    assert.deepEqual(extraLabels(sim, BLUE), [{ role: 'stable' }, { role: 'stable' }]);
    assert.equal(sim.rsByHash(BLUE)?.metadata?.annotations?.[EPHEMERAL], '{"labels":{"role":"stable"}}');
  });

  it('a label the pod already carries with the wanted value is not patched, others are', () => {
    const sim = new Sim(ephemeralLabels(), undefined, { pods: true });
    sim.converge();
    const [first, second] = sim.podsOf(sim.rsByHash(BLUE));
    if (first?.metadata?.labels) delete first.metadata.labels.role; // say a pod was relabelled by hand
    const p = sim.step();
    assert.deepEqual(
      p.actions.filter((a) => a.kind === 'patchPod'),
      [
        {
          kind: 'patchPod',
          name: first?.metadata?.name,
          patch: { metadata: { labels: { role: 'stable' } } },
        },
      ],
    );
    assert.equal(second?.metadata?.labels?.role, 'stable');
  });

  it('malformed metadata in a hand-written spec injects only its string entries and never throws', () => {
    const sim = new Sim(
      ephemeralLabels((r) => {
        (canaryOf(r) as Record<string, unknown>).stableMetadata = {
          labels: { role: 'stable', replicas: 3 },
          annotations: 'not a map',
        };
      }),
      undefined,
      { pods: true },
    );
    sim.converge();
    assert.equal(sim.status.phase, 'Healthy');
    assert.deepEqual(extraLabels(sim, BLUE), [{ role: 'stable' }, { role: 'stable' }]);
    assert.equal(sim.rsByHash(BLUE)?.metadata?.annotations?.[EPHEMERAL], '{"labels":{"role":"stable"}}');
  });

  it('values are written as Argo marshals them: keys sorted, <, > and & escaped', () => {
    const sim = new Sim(
      ephemeralLabels((r) => {
        canaryOf(r).stableMetadata = { annotations: { z: 'a<b>&c', a: '1' }, labels: { role: 'stable' } };
      }),
      undefined,
      { pods: true },
    );
    sim.converge();
    assert.equal(
      sim.rsByHash(BLUE)?.metadata?.annotations?.[EPHEMERAL],
      '{"labels":{"role":"stable"},"annotations":{"a":"1","z":"a\\u003cb\\u003e\\u0026c"}}',
    );
  });
});

// ---- antiAffinity ----

const V1 = computePodTemplateHash(tomozoRollout('tomozo-repo/tomozo:0.0.1').spec.template);
const V2 = computePodTemplateHash(tomozoRollout('tomozo-repo/tomozo:0.0.2').spec.template);
const V3 = computePodTemplateHash(tomozoRollout('tomozo-repo/tomozo:0.0.3').spec.template);
const tomozoImage = (v: string) => ({
  template: { spec: { containers: [{ name: 'tomozo', image: `tomozo-repo/tomozo:${v}` }] } },
});
const term = (stable: string) => ({
  labelSelector: { matchExpressions: [{ key: HASH, operator: 'In', values: [stable] }] },
  namespaces: ['default'],
  topologyKey: 'kubernetes.io/hostname',
});
const ZONE_A = {
  nodeAffinity: {
    requiredDuringSchedulingIgnoredDuringExecution: {
      nodeSelectorTerms: [{ matchExpressions: [{ key: 'zone', operator: 'In', values: ['a'] }] }],
    },
  },
};

function tomozoSim(antiAffinity: object | undefined, mutate?: (r: Rollout) => void): Sim {
  const r = tomozoRollout();
  canaryOf(r).antiAffinity = antiAffinity;
  mutate?.(r);
  return new Sim(r)
    .addService(service('tomozo-stable'))
    .addService(service('tomozo-canary'))
    .addIngress(tomozoIngress());
}
const affinityOf = (sim: Sim, hash: string) => sim.rsByHash(hash)?.spec?.template?.spec?.affinity;
const promote = (sim: Sim) => {
  sim.patchStatus({ pauseConditions: null });
  sim.converge();
  assert.equal(sim.status.phase, 'Healthy');
};
const update = (sim: Sim, v: string) => {
  sim.patchSpec(tomozoImage(v));
  sim.converge();
};

describe('antiAffinity: a term against the stable ReplicaSet in the canary ReplicaSet', () => {
  const cases: {
    name: string;
    antiAffinity: object;
    mutate?: (r: Rollout) => void;
    want: (stable: string) => object;
  }[] = [
    {
      name: 'preferred, with its weight',
      antiAffinity: { preferredDuringSchedulingIgnoredDuringExecution: { weight: 50 } },
      want: (stable) => ({
        podAntiAffinity: {
          preferredDuringSchedulingIgnoredDuringExecution: [{ weight: 50, podAffinityTerm: term(stable) }],
        },
      }),
    },
    {
      name: 'required',
      antiAffinity: { requiredDuringSchedulingIgnoredDuringExecution: {} },
      want: (stable) => ({
        podAntiAffinity: { requiredDuringSchedulingIgnoredDuringExecution: [term(stable)] },
      }),
    },
    {
      name: 'required, next to the template own affinity and anti-affinity terms (appended after them)',
      antiAffinity: { requiredDuringSchedulingIgnoredDuringExecution: {} },
      mutate: (r) => {
        if (r.spec.template?.spec)
          r.spec.template.spec.affinity = {
            ...ZONE_A,
            podAntiAffinity: {
              requiredDuringSchedulingIgnoredDuringExecution: [
                { labelSelector: { matchLabels: { app: 'db' } }, topologyKey: 'zone' },
              ],
            },
          };
      },
      want: (stable) => ({
        ...ZONE_A,
        podAntiAffinity: {
          requiredDuringSchedulingIgnoredDuringExecution: [
            { labelSelector: { matchLabels: { app: 'db' } }, topologyKey: 'zone' },
            term(stable),
          ],
        },
      }),
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const sim = tomozoSim(c.antiAffinity, c.mutate);
      sim.converge();
      const stable = sim.status.stableRS ?? '';
      const own = c.mutate ? sim.rollout.spec.template?.spec?.affinity : undefined;
      assert.deepEqual(affinityOf(sim, stable), own, 'the first ReplicaSet has no stable to avoid');
      update(sim, '0.0.2');
      assert.equal(sim.status.message, 'CanaryPauseStep');
      const canaryHash = computePodTemplateHash(sim.rollout.spec.template);
      assert.equal(sim.status.currentPodHash, canaryHash, 'the hash is the template own, without the term');
      assert.deepEqual(affinityOf(sim, canaryHash), c.want(stable));
    });
  }

  it('promotion leaves the term in place, as Argo does; the next canary avoids the new stable', () => {
    const sim = tomozoSim({ preferredDuringSchedulingIgnoredDuringExecution: { weight: 50 } });
    sim.converge();
    update(sim, '0.0.2');
    promote(sim);
    assert.deepEqual(affinityOf(sim, V2), {
      podAntiAffinity: {
        preferredDuringSchedulingIgnoredDuringExecution: [{ weight: 50, podAffinityTerm: term(V1) }],
      },
    });
    update(sim, '0.0.3');
    assert.deepEqual(affinityOf(sim, V3), {
      podAntiAffinity: {
        preferredDuringSchedulingIgnoredDuringExecution: [{ weight: 50, podAffinityTerm: term(V2) }],
      },
    });
  });

  it('the term of a stable ReplicaSet goes when its annotations are next synced', () => {
    const sim = tomozoSim({ requiredDuringSchedulingIgnoredDuringExecution: {} }, (r) => {
      if (r.spec.template?.spec) r.spec.template.spec.affinity = ZONE_A;
    });
    sim.converge();
    update(sim, '0.0.2');
    promote(sim);
    const v2 = sim.status.stableRS ?? '';
    assert.equal(
      affinityOf(sim, v2)?.podAntiAffinity?.requiredDuringSchedulingIgnoredDuringExecution?.length,
      1,
    );
    sim.rollout.metadata.annotations = { ...sim.rollout.metadata.annotations, 'example.com/owner': 'team-a' };
    sim.converge();
    assert.equal(sim.rsByHash(v2)?.metadata?.annotations?.['example.com/owner'], 'team-a');
    assert.deepEqual(affinityOf(sim, v2), ZONE_A);
  });

  it('a rollback to an older ReplicaSet points its term at the current stable', () => {
    const sim = tomozoSim({ requiredDuringSchedulingIgnoredDuringExecution: {} });
    sim.converge();
    update(sim, '0.0.2');
    promote(sim);
    update(sim, '0.0.3');
    promote(sim);
    update(sim, '0.0.2'); // V2 again, with V3 stable
    assert.deepEqual(affinityOf(sim, V2), {
      podAntiAffinity: { requiredDuringSchedulingIgnoredDuringExecution: [term(V3)] },
    });
  });

  it('without antiAffinity no term is added', () => {
    const sim = tomozoSim(undefined);
    sim.converge();
    update(sim, '0.0.2');
    assert.equal(affinityOf(sim, V2), undefined);
  });
});

describe('the pod cache keeps annotations small and the comparison still exact', () => {
  const long = (c: string) => c.repeat(2000);
  const pod = (annotations: Record<string, string>): V1Pod =>
    slimPod({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: {
        name: 'p',
        namespace: 'default',
        labels: { app: 'x' },
        annotations,
        managedFields: [{ manager: 'kubelet' }],
      },
      spec: { containers: [{ name: 'x', image: 'x' }] },
    } as never) as V1Pod;

  it('values over 256 characters are cached as a short fingerprint, shorter ones as they are', () => {
    const cached = pod({ big: long('a'), small: 'b' }).metadata?.annotations ?? {};
    assert.equal(cached.small, 'b');
    assert.ok((cached.big?.length ?? 0) < 64, `cached as ${JSON.stringify(cached.big)}`);
    assert.notEqual(cached.big, pod({ big: long('c') }).metadata?.annotations?.big);
  });

  const cases: [string, Record<string, string>, Record<string, string>, object | undefined][] = [
    ['the same long value: nothing to patch', { big: long('a') }, { big: long('a') }, undefined],
    [
      'another long value: patched with the full value',
      { big: long('a') },
      { big: long('b') },
      { annotations: { big: long('b') } },
    ],
    [
      'a long value of another length',
      { big: long('a') },
      { big: `${long('a')}a` },
      { annotations: { big: `${long('a')}a` } },
    ],
    ['a missing key', {}, { big: long('a') }, { annotations: { big: long('a') } }],
  ];
  for (const [name, have, want, changes] of cases) {
    it(name, () =>
      assert.deepEqual(
        ephemeralMetadataChanges(pod(have).metadata, undefined, { annotations: want }),
        changes,
      ),
    );
  }
});
