/**
 * Taking a Rollout over from Argo Rollouts: when no ReplicaSet carries the
 * current hash (say Argo wrote an older hash, or a library change moved it),
 * the ReplicaSet whose template equals the Rollout's is the new one — once the
 * pod-template-hash label, the API server's defaults, and what Argo injects
 * into ReplicaSet templates are set aside: the canaryMetadata/stableMetadata
 * recorded in the `rollout.argoproj.io/ephemeral-metadata` annotation and the
 * anti-affinity term against the stable ReplicaSet. The ReplicaSets below are
 * written the way Argo v1.10 writes them.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { V1ReplicaSet } from '@kubernetes/client-node';
import type { Rollout } from '../../../src/api/types.ts';
import { findNewReplicaSet, templateWithoutInjections } from '../../../src/rollout/replicasets.ts';
import { tomozoRollout } from './fixtures.ts';

const ARGO_HASH = 'argohash1';

function rollout(canary: Record<string, unknown> = {}): Rollout {
  const r = tomozoRollout();
  r.spec.strategy = { canary: { ...r.spec.strategy?.canary, ...canary } };
  return r;
}

/** The ReplicaSet Argo made for the Rollout's template, after the API server defaulted it. */
function argoReplicaSet(edit: (rs: V1ReplicaSet) => void = () => {}): V1ReplicaSet {
  const rs: V1ReplicaSet = {
    metadata: {
      name: `tomozo-${ARGO_HASH}`,
      namespace: 'default',
      creationTimestamp: new Date('2026-01-01T00:00:00Z'),
      labels: { app: 'tomozo', 'rollouts-pod-template-hash': ARGO_HASH },
      annotations: { 'rollout.argoproj.io/revision': '1' },
    },
    spec: {
      replicas: 1,
      selector: { matchLabels: { app: 'tomozo', 'rollouts-pod-template-hash': ARGO_HASH } },
      template: {
        metadata: { labels: { app: 'tomozo', 'rollouts-pod-template-hash': ARGO_HASH } },
        spec: {
          serviceAccountName: 'tomozo',
          serviceAccount: 'tomozo',
          containers: [
            {
              name: 'tomozo',
              image: 'tomozo-repo/tomozo:0.0.1',
              imagePullPolicy: 'IfNotPresent',
              terminationMessagePath: '/dev/termination-log',
              terminationMessagePolicy: 'File',
              resources: {},
            },
          ],
          restartPolicy: 'Always',
          terminationGracePeriodSeconds: 30,
          dnsPolicy: 'ClusterFirst',
          schedulerName: 'default-scheduler',
          securityContext: {},
        },
      },
    },
  };
  edit(rs);
  return rs;
}

const STABLE_METADATA = { labels: { role: 'stable' }, annotations: { 'example.com/track': 'stable' } };

function withEphemeral(rs: V1ReplicaSet, injected: unknown = STABLE_METADATA): void {
  const meta = rs.spec?.template?.metadata;
  if (!meta || !rs.metadata) return;
  meta.labels = { ...meta.labels, role: 'stable' };
  meta.annotations = { ...meta.annotations, 'example.com/track': 'stable' };
  rs.metadata.annotations = {
    ...rs.metadata.annotations,
    'rollout.argoproj.io/ephemeral-metadata':
      typeof injected === 'string' ? injected : JSON.stringify(injected),
  };
}

const injectedTerm = (stableHash: string) => ({
  labelSelector: {
    matchExpressions: [{ key: 'rollouts-pod-template-hash', operator: 'In', values: [stableHash] }],
  },
  namespaces: ['default'],
  topologyKey: 'kubernetes.io/hostname',
});

function withPreferredAntiAffinity(rs: V1ReplicaSet): void {
  const spec = rs.spec?.template?.spec;
  if (spec)
    spec.affinity = {
      podAntiAffinity: {
        preferredDuringSchedulingIgnoredDuringExecution: [
          { weight: 50, podAffinityTerm: injectedTerm('stablehash') },
        ],
      },
    };
}

const found = (r: Rollout, rs: V1ReplicaSet) => findNewReplicaSet(r, [rs])?.metadata?.name;

describe('a ReplicaSet made by Argo Rollouts is found by its template when the hash differs', () => {
  const cases: [string, Rollout, V1ReplicaSet, string | undefined][] = [
    [
      'same template, defaults filled in by the API server',
      rollout(),
      argoReplicaSet(),
      `tomozo-${ARGO_HASH}`,
    ],
    [
      'stableMetadata injected (recorded in the ephemeral-metadata annotation)',
      rollout({ stableMetadata: STABLE_METADATA }),
      argoReplicaSet((rs) => withEphemeral(rs)),
      `tomozo-${ARGO_HASH}`,
    ],
    [
      'canaryMetadata injected, since removed from the Rollout',
      rollout(),
      argoReplicaSet((rs) => withEphemeral(rs)),
      `tomozo-${ARGO_HASH}`,
    ],
    [
      'preferred anti-affinity term injected against the stable ReplicaSet',
      rollout({ antiAffinity: { preferredDuringSchedulingIgnoredDuringExecution: { weight: 50 } } }),
      argoReplicaSet(withPreferredAntiAffinity),
      `tomozo-${ARGO_HASH}`,
    ],
    [
      'required anti-affinity term injected next to the template own affinity',
      (() => {
        const r = rollout({ antiAffinity: { requiredDuringSchedulingIgnoredDuringExecution: {} } });
        if (r.spec.template?.spec)
          r.spec.template.spec.affinity = {
            nodeAffinity: {
              requiredDuringSchedulingIgnoredDuringExecution: {
                nodeSelectorTerms: [{ matchExpressions: [{ key: 'zone', operator: 'In', values: ['a'] }] }],
              },
            },
          };
        return r;
      })(),
      argoReplicaSet((rs) => {
        const spec = rs.spec?.template?.spec;
        if (!spec) return;
        spec.affinity = {
          nodeAffinity: {
            requiredDuringSchedulingIgnoredDuringExecution: {
              nodeSelectorTerms: [{ matchExpressions: [{ key: 'zone', operator: 'In', values: ['a'] }] }],
            },
          },
          podAntiAffinity: { requiredDuringSchedulingIgnoredDuringExecution: [injectedTerm('stablehash')] },
        };
      }),
      `tomozo-${ARGO_HASH}`,
    ],
    [
      'both injected at once',
      rollout({
        stableMetadata: STABLE_METADATA,
        antiAffinity: { preferredDuringSchedulingIgnoredDuringExecution: { weight: 50 } },
      }),
      argoReplicaSet((rs) => {
        withEphemeral(rs);
        withPreferredAntiAffinity(rs);
      }),
      `tomozo-${ARGO_HASH}`,
    ],
    // what must not be taken for an injection
    [
      'another image is another template',
      rollout(),
      argoReplicaSet((rs) => {
        const c = rs.spec?.template?.spec?.containers[0];
        if (c) c.image = 'tomozo-repo/tomozo:0.0.2';
      }),
      undefined,
    ],
    [
      'a label not recorded in the annotation is part of the template',
      rollout(),
      argoReplicaSet((rs) =>
        withEphemeral(rs, { labels: {}, annotations: { 'example.com/track': 'stable' } }),
      ),
      undefined,
    ],
    [
      'an unreadable ephemeral-metadata annotation strips nothing',
      rollout(),
      argoReplicaSet((rs) => withEphemeral(rs, '{not json')),
      undefined,
    ],
    [
      'anti-affinity terms are kept when the Rollout sets no antiAffinity',
      rollout(),
      argoReplicaSet(withPreferredAntiAffinity),
      undefined,
    ],
    [
      'only the term selecting on the hash label is the injected one',
      rollout({ antiAffinity: { preferredDuringSchedulingIgnoredDuringExecution: { weight: 50 } } }),
      argoReplicaSet((rs) => {
        const spec = rs.spec?.template?.spec;
        if (!spec) return;
        spec.affinity = {
          podAntiAffinity: {
            preferredDuringSchedulingIgnoredDuringExecution: [
              {
                weight: 50,
                podAffinityTerm: { labelSelector: { matchLabels: { app: 'x' } }, topologyKey: 'zone' },
              },
            ],
          },
        };
      }),
      undefined,
    ],
  ];
  for (const [name, r, rs, want] of cases) it(name, () => assert.equal(found(r, rs), want));

  it('leaves the ReplicaSet itself untouched', () => {
    const rs = argoReplicaSet((x) => {
      withEphemeral(x);
      withPreferredAntiAffinity(x);
    });
    const before = JSON.stringify(rs);
    const r = rollout({ antiAffinity: { preferredDuringSchedulingIgnoredDuringExecution: { weight: 50 } } });
    const stripped = templateWithoutInjections(rs, r);
    assert.equal(JSON.stringify(rs), before);
    assert.deepEqual(stripped?.metadata?.labels, { app: 'tomozo', 'rollouts-pod-template-hash': ARGO_HASH });
    assert.deepEqual(stripped?.metadata?.annotations, {});
    assert.equal(stripped?.spec?.affinity, undefined);
  });
});
