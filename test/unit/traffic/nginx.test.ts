import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { V1Ingress } from '@kubernetes/client-node';
import type { NginxTrafficRouting, Rollout } from '../../../src/api/types.ts';
import {
  buildCanaryIngress,
  canaryIngressName,
  canaryIngressNames,
  canaryIngressPatch,
  NginxRouter,
  routerFor,
} from '../../../src/traffic/nginx.ts';

function rollout(nginx: NginxTrafficRouting, maxTrafficWeight?: number): Rollout {
  return {
    metadata: { name: 'rollout', namespace: 'ns', uid: 'ro-uid' },
    spec: {
      strategy: {
        canary: {
          stableService: 'stable-service',
          canaryService: 'canary-service',
          trafficRouting: { nginx, maxTrafficWeight },
        },
      },
    },
  };
}

function stableIngress(name = 'stable-ingress', extra: Partial<V1Ingress> = {}): V1Ingress {
  return {
    apiVersion: 'networking.k8s.io/v1',
    kind: 'Ingress',
    metadata: {
      name,
      namespace: 'ns',
      annotations: { 'kubernetes.io/ingress.class': 'nginx-foo', 'other/anno': 'x' },
    },
    spec: {
      rules: [
        {
          host: 'fakehost.example.com',
          http: {
            paths: [
              {
                path: '/foo',
                pathType: 'Prefix',
                backend: { service: { name: 'stable-service', port: { number: 80 } } },
              },
            ],
          },
        },
      ],
    },
    ...extra,
  };
}

function built(r: Rollout, stable: V1Ingress, weight: number): V1Ingress {
  const res = buildCanaryIngress(
    r,
    stable,
    canaryIngressName('rollout', stable.metadata?.name ?? ''),
    weight,
  );
  if ('error' in res) throw new Error(res.error);
  return res.ingress;
}

describe('canary Ingress name', () => {
  const cases: [string, string, string][] = [
    ['rollout', 'stable-ingress', 'rollout-stable-ingress-canary'],
    ['rollout', 'additional-stable-ingress', 'rollout-additional-stable-ingress-canary'],
    ['rollouts-demo', 'rollouts-demo-stable', 'rollouts-demo-rollouts-demo-stable-canary'],
    ['tomozo', 'tomozo', 'tomozo-tomozo-canary'],
  ];
  for (const [ro, ing, want] of cases)
    it(`${ro} + ${ing}`, () => assert.equal(canaryIngressName(ro, ing), want));
  it('is cut to 253 characters, keeping the -canary suffix', () => {
    const name = canaryIngressName('r'.repeat(200), 'i'.repeat(100));
    assert.equal(name.length, 253);
    assert.ok(name.endsWith('-canary'));
    assert.ok(name.startsWith(`${'r'.repeat(200)}-${'i'.repeat(45)}`));
  });
  it('one per stable Ingress with stableIngresses', () =>
    assert.deepEqual(canaryIngressNames(rollout({ stableIngresses: ['a', 'b'] })), [
      'rollout-a-canary',
      'rollout-b-canary',
    ]));
});

describe('buildCanaryIngress (Argo nginx_test expectations)', () => {
  it('points the stable paths at the canary Service and keeps host, path, pathType and port', () => {
    const ing = built(rollout({ stableIngress: 'stable-ingress' }), stableIngress(), 10);
    assert.deepEqual(ing.spec?.rules, [
      {
        host: 'fakehost.example.com',
        http: {
          paths: [
            {
              path: '/foo',
              pathType: 'Prefix',
              backend: { service: { name: 'canary-service', port: { number: 80 } } },
            },
          ],
        },
      },
    ]);
  });
  it('has the canary annotations and only the ingress.class of the stable', () => {
    const ing = built(rollout({ stableIngress: 'stable-ingress' }), stableIngress(), 10);
    assert.deepEqual(ing.metadata?.annotations, {
      'kubernetes.io/ingress.class': 'nginx-foo',
      'nginx.ingress.kubernetes.io/canary': 'true',
      'nginx.ingress.kubernetes.io/canary-weight': '10',
    });
  });
  it('is owned by the Rollout (controller, blockOwnerDeletion), in its namespace, without labels', () => {
    const ing = built(rollout({ stableIngress: 'stable-ingress' }), stableIngress(), 0);
    assert.deepEqual(ing.metadata?.ownerReferences, [
      {
        apiVersion: 'argoproj.io/v1alpha1',
        kind: 'Rollout',
        name: 'rollout',
        uid: 'ro-uid',
        controller: true,
        blockOwnerDeletion: true,
      },
    ]);
    assert.equal(ing.metadata?.namespace, 'ns');
    assert.equal(ing.metadata?.labels, undefined);
    assert.equal(ing.apiVersion, 'networking.k8s.io/v1');
  });
  it('copies ingressClassName', () => {
    const stable = stableIngress();
    if (stable.spec) stable.spec.ingressClassName = 'nginx-ext';
    assert.equal(
      built(rollout({ stableIngress: 'stable-ingress' }), stable, 0).spec?.ingressClassName,
      'nginx-ext',
    );
  });
  it('copies TLS when the stable has it', () => {
    const stable = stableIngress();
    if (stable.spec) stable.spec.tls = [{ hosts: ['fakehost.example.com'], secretName: 'tls-secret' }];
    assert.deepEqual(built(rollout({ stableIngress: 'stable-ingress' }), stable, 0).spec?.tls, [
      { hosts: ['fakehost.example.com'], secretName: 'tls-secret' },
    ]);
  });
  it('has no TLS when the stable has none', () =>
    assert.equal(
      built(rollout({ stableIngress: 'stable-ingress' }), stableIngress(), 0).spec?.tls,
      undefined,
    ));
  it('does not copy defaultBackend', () => {
    const stable = stableIngress();
    if (stable.spec)
      stable.spec.defaultBackend = { service: { name: 'stable-service', port: { number: 80 } } };
    assert.equal(
      built(rollout({ stableIngress: 'stable-ingress' }), stable, 0).spec?.defaultBackend,
      undefined,
    );
  });
  it('prefixes additionalIngressAnnotations; canaryIngressAnnotations are verbatim', () => {
    const r = rollout({
      stableIngress: 'stable-ingress',
      additionalIngressAnnotations: { 'canary-by-header': 'X-Foo', 'canary-by-header-value': 'DoCanary' },
      canaryIngressAnnotations: { 'annotation-prefix.some.group/some-key': 'some-value' },
    });
    assert.deepEqual(built(r, stableIngress(), 15).metadata?.annotations, {
      'kubernetes.io/ingress.class': 'nginx-foo',
      'nginx.ingress.kubernetes.io/canary-by-header': 'X-Foo',
      'nginx.ingress.kubernetes.io/canary-by-header-value': 'DoCanary',
      'annotation-prefix.some.group/some-key': 'some-value',
      'nginx.ingress.kubernetes.io/canary': 'true',
      'nginx.ingress.kubernetes.io/canary-weight': '15',
    });
  });
  it('does not prefix keys that already carry the prefix', () => {
    const r = rollout({
      stableIngress: 'stable-ingress',
      additionalIngressAnnotations: { 'nginx.ingress.kubernetes.io/x': '1' },
    });
    assert.equal(built(r, stableIngress(), 1).metadata?.annotations?.['nginx.ingress.kubernetes.io/x'], '1');
  });
  it('uses annotationPrefix', () => {
    const r = rollout({
      stableIngress: 'stable-ingress',
      annotationPrefix: 'custom.nginx',
      additionalIngressAnnotations: { a: 'b' },
    });
    const a = built(r, stableIngress(), 7).metadata?.annotations ?? {};
    assert.equal(a['custom.nginx/canary'], 'true');
    assert.equal(a['custom.nginx/canary-weight'], '7');
    assert.equal(a['custom.nginx/a'], 'b');
    assert.equal(a['nginx.ingress.kubernetes.io/canary'], undefined);
  });
  it('users cannot override canary or canary-weight', () => {
    const r = rollout({
      stableIngress: 'stable-ingress',
      additionalIngressAnnotations: { canary: 'false', 'canary-weight': '99' },
      canaryIngressAnnotations: { 'nginx.ingress.kubernetes.io/canary-weight': '98' },
    });
    const a = built(r, stableIngress(), 3).metadata?.annotations ?? {};
    assert.equal(a['nginx.ingress.kubernetes.io/canary'], 'true');
    assert.equal(a['nginx.ingress.kubernetes.io/canary-weight'], '3');
  });
  it('canaryIngressAnnotations win over additionalIngressAnnotations', () => {
    const r = rollout({
      stableIngress: 'stable-ingress',
      additionalIngressAnnotations: { 'canary-by-cookie': 'a' },
      canaryIngressAnnotations: { 'nginx.ingress.kubernetes.io/canary-by-cookie': 'b' },
    });
    assert.equal(
      built(r, stableIngress(), 1).metadata?.annotations?.['nginx.ingress.kubernetes.io/canary-by-cookie'],
      'b',
    );
  });
  it('maxTrafficWeight adds canary-weight-total', () => {
    const a =
      built(rollout({ stableIngress: 'stable-ingress' }, 1000), stableIngress(), 15).metadata?.annotations ??
      {};
    assert.equal(a['nginx.ingress.kubernetes.io/canary-weight'], '15');
    assert.equal(a['nginx.ingress.kubernetes.io/canary-weight-total'], '1000');
  });
  it('keeps only rules with a stable path, and the other paths of such a rule unchanged (issue #3541)', () => {
    const stable = stableIngress();
    stable.spec?.rules?.push({
      host: 'other.example.com',
      http: {
        paths: [
          { path: '/', pathType: 'Prefix', backend: { service: { name: 'other', port: { number: 80 } } } },
        ],
      },
    });
    stable.spec?.rules?.[0]?.http?.paths.push({
      path: '/bar',
      pathType: 'Prefix',
      backend: { service: { name: 'other', port: { number: 8080 } } },
    });
    stable.spec?.rules?.push({ host: 'host-only.example.com' });
    const ing = built(rollout({ stableIngress: 'stable-ingress' }), stable, 0);
    assert.equal(ing.spec?.rules?.length, 1);
    assert.deepEqual(
      ing.spec?.rules?.[0]?.http?.paths.map((p) => [p.path, p.backend.service?.name]),
      [
        ['/foo', 'canary-service'],
        ['/bar', 'other'],
      ],
    );
  });
  it('fails with Argo’s message when no rule uses the stable Service', () => {
    const stable = stableIngress();
    const path = stable.spec?.rules?.[0]?.http?.paths[0];
    if (path?.backend.service) path.backend.service.name = 'other-service';
    const res = buildCanaryIngress(rollout({ stableIngress: 'stable-ingress' }), stable, 'x', 0);
    assert.deepEqual(res, {
      error: 'ingress `stable-ingress` has no rules using service stable-service backend',
    });
  });
  it('does not modify the stable Ingress', () => {
    const stable = stableIngress();
    const before = JSON.stringify(stable);
    built(rollout({ stableIngress: 'stable-ingress' }), stable, 50);
    assert.equal(JSON.stringify(stable), before);
  });
});

describe('canaryIngressPatch', () => {
  const r = rollout({ stableIngress: 'stable-ingress' });
  const live = (weight: string, extra: Record<string, string> = {}): V1Ingress => {
    const ing = built(r, stableIngress(), 0);
    if (ing.metadata)
      ing.metadata.annotations = {
        ...ing.metadata.annotations,
        'nginx.ingress.kubernetes.io/canary-weight': weight,
        ...extra,
      };
    return ing;
  };
  it('patches only the weight (TestCanaryIngressPatchWeight)', () =>
    assert.deepEqual(canaryIngressPatch(live('10'), built(r, stableIngress(), 15)), {
      metadata: { annotations: { 'nginx.ingress.kubernetes.io/canary-weight': '15' } },
    }));
  it('weight and total with maxTrafficWeight (TestCanaryIngressMaxWeightInTrafficRouting)', () => {
    const r1000 = rollout({ stableIngress: 'stable-ingress' }, 1000);
    assert.deepEqual(canaryIngressPatch(live('10'), built(r1000, stableIngress(), 15)), {
      metadata: {
        annotations: {
          'nginx.ingress.kubernetes.io/canary-weight': '15',
          'nginx.ingress.kubernetes.io/canary-weight-total': '1000',
        },
      },
    });
  });
  it('no change, no patch', () =>
    assert.equal(canaryIngressPatch(live('15'), built(r, stableIngress(), 15)), undefined));
  it('keeps annotations other controllers added (TestCanaryIngressRetainCurrentAnnotations)', () => {
    const current = live('15', {
      'nginx.ingress.kubernetes.io/canary': 'false',
      'annotation-prefix.some.group/some-key': 'some-value',
    });
    assert.deepEqual(canaryIngressPatch(current, built(r, stableIngress(), 15)), {
      metadata: { annotations: { 'nginx.ingress.kubernetes.io/canary': 'true' } },
    });
  });
  it('replaces the whole rules list when the stable path changed (TestCanaryIngressUpdateRoute)', () => {
    const stable = stableIngress();
    const path = stable.spec?.rules?.[0]?.http?.paths[0];
    if (path) path.path = '/bar';
    const patch = canaryIngressPatch(live('0'), built(r, stable, 0)) as { spec?: { rules?: unknown[] } };
    assert.deepEqual(patch, {
      spec: {
        rules: [
          {
            host: 'fakehost.example.com',
            http: {
              paths: [
                {
                  path: '/bar',
                  pathType: 'Prefix',
                  backend: { service: { name: 'canary-service', port: { number: 80 } } },
                },
              ],
            },
          },
        ],
      },
    });
  });
  it('removes labels someone put on the canary', () => {
    const current = live('0');
    if (current.metadata) current.metadata.labels = { x: 'y' };
    assert.deepEqual(canaryIngressPatch(current, built(r, stableIngress(), 0)), {
      metadata: { labels: null },
    });
  });
});

describe('NginxRouter.setWeight', () => {
  const r = rollout({ stableIngress: 'stable-ingress' });
  it('creates a missing canary Ingress with an event', () => {
    const res = new NginxRouter({ rollout: r, ingresses: { 'stable-ingress': stableIngress() } }).setWeight(
      0,
    );
    assert.deepEqual(
      res.actions.map((a) => a.kind),
      ['createIngress'],
    );
    assert.deepEqual(res.events, [
      {
        type: 'Normal',
        reason: 'CreatingCanaryIngress',
        message: 'Creating canary ingress `rollout-stable-ingress-canary` with weight `0`',
      },
    ]);
    assert.equal(res.error, undefined);
  });
  it('patches an existing one with an event', () => {
    const existing = built(r, stableIngress(), 0);
    const res = new NginxRouter({
      rollout: r,
      ingresses: { 'stable-ingress': stableIngress(), 'rollout-stable-ingress-canary': existing },
    }).setWeight(10);
    assert.deepEqual(res.actions, [
      {
        kind: 'patchIngress',
        name: 'rollout-stable-ingress-canary',
        patch: { metadata: { annotations: { 'nginx.ingress.kubernetes.io/canary-weight': '10' } } },
      },
    ]);
    assert.deepEqual(
      res.events.map((e) => e.message),
      ["Updating Ingress `rollout-stable-ingress-canary` to desiredWeight '10'"],
    );
  });
  it('does nothing when the canary is already right', () => {
    const existing = built(r, stableIngress(), 10);
    const res = new NginxRouter({
      rollout: r,
      ingresses: { 'stable-ingress': stableIngress(), 'rollout-stable-ingress-canary': existing },
    }).setWeight(10);
    assert.deepEqual(res, { actions: [], events: [] });
  });
  for (const [name, owners] of [
    ['no owner', undefined],
    [
      'another owner',
      [{ apiVersion: 'argoproj.io/v1alpha1', kind: 'Rollout', name: 'x', uid: 'other', controller: true }],
    ],
  ] as const) {
    it(`refuses a canary Ingress with ${name}`, () => {
      const existing = built(r, stableIngress(), 10);
      if (existing.metadata) existing.metadata.ownerReferences = owners ? [...owners] : undefined;
      const res = new NginxRouter({
        rollout: r,
        ingresses: { 'stable-ingress': stableIngress(), 'rollout-stable-ingress-canary': existing },
      }).setWeight(10);
      assert.equal(
        res.error,
        'canary ingress `rollout-stable-ingress-canary` controlled by different object',
      );
      assert.deepEqual(res.actions, []);
    });
  }
  it('handles each of stableIngresses', () => {
    const multi = rollout({ stableIngresses: ['stable-ingress', 'additional-stable-ingress'] });
    const res = new NginxRouter({
      rollout: multi,
      ingresses: {
        'stable-ingress': stableIngress(),
        'additional-stable-ingress': stableIngress('additional-stable-ingress'),
      },
    }).setWeight(20);
    assert.deepEqual(
      res.actions.map((a) =>
        a.kind === 'createIngress'
          ? [
              a.ingress.metadata?.name,
              a.ingress.metadata?.annotations?.['nginx.ingress.kubernetes.io/canary-weight'],
            ]
          : a.kind,
      ),
      [
        ['rollout-stable-ingress-canary', '20'],
        ['rollout-additional-stable-ingress-canary', '20'],
      ],
    );
  });
  it('reports a missing stable Ingress', () => {
    const res = new NginxRouter({ rollout: r, ingresses: {} }).setWeight(0);
    assert.match(res.error ?? '', /stableIngress `stable-ingress`/);
  });
  it('cannot verify weights (so they never block a step)', () =>
    assert.equal(new NginxRouter({ rollout: r, ingresses: {} }).verifyWeight(10), undefined));
  it('reads the stable and canary Ingresses', () =>
    assert.deepEqual(new NginxRouter({ rollout: r, ingresses: {} }).ingressNames(), [
      'stable-ingress',
      'rollout-stable-ingress-canary',
    ]));
  it('routerFor: nginx only', () => {
    assert.equal(routerFor({ rollout: r, ingresses: {} })?.type, 'Nginx');
    const basic: Rollout = { metadata: { name: 'b' }, spec: { strategy: { canary: {} } } };
    assert.equal(routerFor({ rollout: basic, ingresses: {} }), undefined);
  });
});
