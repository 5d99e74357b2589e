/**
 * Argo's e2e fixture test/e2e/functional/ephemeral-labels.yaml (canaryMetadata
 * role=canary, stableMetadata role=stable), plus a canary annotation and a
 * preferred antiAffinity, on the real cluster: the pods' labels and
 * annotations follow their ReplicaSet's role in place — after promotion the
 * very same pods (same uids, same ReplicaSet and pod-template-hash) carry the
 * stable metadata — and the canary ReplicaSet avoids the stable's nodes.
 */
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { RESOURCES } from '../../../src/kube/client.ts';
import { waitUntil } from '../../support/cluster.ts';
import {
  editRollout,
  HASH_LABEL,
  type PodLike,
  type ReplicaSetLike,
  rolloutEnv,
  upstreamFixture,
} from '../../support/controller.ts';

const NAME = 'ephemeral-label';
const EPHEMERAL = 'rollout.argoproj.io/ephemeral-metadata';
const TRACK = 'example.com/track';

type Pod = PodLike & { metadata: PodLike['metadata'] & { annotations?: Record<string, string> } };
type ReplicaSet = ReplicaSetLike & {
  spec: ReplicaSetLike['spec'] & {
    template: {
      metadata: { labels?: Record<string, string>; annotations?: Record<string, string> };
      spec: { affinity?: unknown };
    };
  };
};

it('ephemeral-labels: pods take canary/stable metadata in place; the canary ReplicaSet gets the anti-affinity term', async (t) => {
  const env = await rolloutEnv(t, 'eph');
  await env.apply(
    editRollout(upstreamFixture('test/e2e/functional/ephemeral-labels.yaml'), (ro) => {
      const canary = ro.spec.strategy.canary;
      canary.canaryMetadata = {
        ...(canary.canaryMetadata as object),
        annotations: { [TRACK]: 'canary' },
      };
      canary.antiAffinity = { preferredDuringSchedulingIgnoredDuringExecution: { weight: 50 } };
    }),
  );
  const pods = async (hash: string) =>
    (await env.list<Pod>(RESOURCES.pods, `${HASH_LABEL}=${hash}`)).filter(
      (p) => !p.metadata.deletionTimestamp,
    );
  const rsOf = async (hash: string) =>
    (await env.replicaSets()).find((rs) => rs.metadata.labels?.[HASH_LABEL] === hash) as ReplicaSet;
  /** waits until the ReplicaSet's live pods are `count` and all satisfy `ok` */
  const podsWhere = async (hash: string, what: string, count: number, ok: (p: Pod) => boolean) => {
    let last: unknown;
    return waitUntil(
      `${hash}: ${count} pods ${what}`,
      async () => {
        const ps = await pods(hash);
        last = ps.map((p) => ({
          name: p.metadata.name,
          labels: p.metadata.labels,
          annotations: p.metadata.annotations,
        }));
        return ps.length === count && ps.every(ok) ? ps : undefined;
      },
      30_000,
    ).catch((err) => {
      throw new Error(
        `${(err as Error).message}; pods: ${JSON.stringify(last)}\ncontroller log:\n${env.logs()}`,
      );
    });
  };

  const healthy = await env.waitFor(NAME, 'Healthy', (r) => r.status?.phase === 'Healthy');
  const v1 = healthy.status?.stableRS ?? '';
  await podsWhere(v1, 'role=stable', 2, (p) => p.metadata.labels?.role === 'stable');
  const rs1 = await rsOf(v1);
  assert.equal(rs1.metadata.annotations?.[EPHEMERAL], '{"labels":{"role":"stable"}}');
  assert.equal(rs1.spec.template.spec.affinity, undefined, 'no stable to avoid on the first deploy');

  await env.ros.setImage(NAME, NAME, 'argoproj/rollouts-demo:yellow');
  const paused = await env.waitFor(NAME, 'Paused at the pause step', (r) => r.status?.phase === 'Paused');
  const v2 = paused.status?.currentPodHash ?? '';
  assert.notEqual(v2, v1);
  const canaryPods = await podsWhere(
    v2,
    'role=canary with the canary annotation',
    1,
    (p) => p.metadata.labels?.role === 'canary' && p.metadata.annotations?.[TRACK] === 'canary',
  );
  await podsWhere(v1, 'still role=stable', 1, (p) => p.metadata.labels?.role === 'stable');
  const rs2 = await rsOf(v2);
  assert.equal(rs2.metadata.name, `${NAME}-${v2}`);
  assert.equal(
    rs2.metadata.annotations?.[EPHEMERAL],
    '{"labels":{"role":"canary"},"annotations":{"example.com/track":"canary"}}',
  );
  assert.deepEqual(rs2.spec.template.spec.affinity, {
    podAntiAffinity: {
      preferredDuringSchedulingIgnoredDuringExecution: [
        {
          weight: 50,
          podAffinityTerm: {
            labelSelector: { matchExpressions: [{ key: HASH_LABEL, operator: 'In', values: [v1] }] },
            namespaces: [env.ns.name],
            topologyKey: 'kubernetes.io/hostname',
          },
        },
      ],
    },
  });

  await env.ros.promote(NAME);
  await env.waitFor(
    NAME,
    'Healthy on the new hash',
    (r) => r.status?.phase === 'Healthy' && r.status.stableRS === v2 && r.status.currentPodHash === v2,
  );
  // the canary pod is the same pod, now with the stable metadata and without the canary annotation
  const after = await podsWhere(
    v2,
    'role=stable without the canary annotation',
    2,
    (p) => p.metadata.labels?.role === 'stable' && p.metadata.annotations?.[TRACK] === undefined,
  );
  const canaryUid = canaryPods[0]?.metadata.uid;
  assert.ok(
    after.some((p) => p.metadata.uid === canaryUid),
    `the canary pod ${canaryPods[0]?.metadata.name} (${canaryUid}) is still running, not replaced`,
  );
  const promoted = await rsOf(v2);
  assert.equal(promoted.metadata.uid, rs2.metadata.uid, 'the same ReplicaSet');
  assert.equal(promoted.metadata.name, `${NAME}-${v2}`);
  assert.equal(promoted.spec.template.metadata.labels?.[HASH_LABEL], v2);
  assert.equal(promoted.spec.template.metadata.labels?.role, 'stable');
  assert.equal(promoted.metadata.annotations?.[EPHEMERAL], '{"labels":{"role":"stable"}}');
  assert.equal((await env.replicaSets()).length, 2, 'no new ReplicaSet');
});
