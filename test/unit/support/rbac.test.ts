/**
 * The request attributes the least-privilege test records, against the
 * mapping Kubernetes documents ("Authorization: determine the request verb":
 * POST create, GET/HEAD get or list (collection), watch with ?watch=true,
 * PUT update, PATCH patch, DELETE delete or deletecollection).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { grantsOf, requestAttributes } from '../../support/rbac.ts';

describe('requestAttributes', () => {
  const cases: [string, string, string | undefined][] = [
    ['GET', '/api/v1/namespaces/ns/pods/p1', 'get "" pods ns p1'],
    ['GET', '/api/v1/namespaces/ns/pods', 'list "" pods ns'],
    ['GET', '/api/v1/pods?labelSelector=a&watch=true&resourceVersion=5', 'watch "" pods -'],
    ['GET', '/api/v1/watch/namespaces/ns/pods', 'watch "" pods ns'],
    ['POST', '/api/v1/namespaces/ns/events', 'create "" events ns'],
    [
      'PATCH',
      '/apis/argoproj.io/v1alpha1/namespaces/ns/rollouts/r/status',
      'patch argoproj.io rollouts/status ns r',
    ],
    ['PUT', '/apis/coordination.k8s.io/v1/namespaces/ns/leases/l', 'update coordination.k8s.io leases ns l'],
    ['DELETE', '/apis/apps/v1/namespaces/ns/replicasets/rs', 'delete apps replicasets ns rs'],
    ['DELETE', '/apis/apps/v1/namespaces/ns/replicasets', 'deletecollection apps replicasets ns'],
    ['GET', '/apis/networking.k8s.io/v1/ingressclasses?watch=1', 'watch networking.k8s.io ingressclasses -'],
    ['POST', '/api/v1/namespaces/ns/serviceaccounts/sa/token', 'create "" serviceaccounts/token ns sa'],
    ['GET', '/api/v1/namespaces/ns', 'get "" namespaces - ns'],
    ['GET', '/version', undefined],
    ['GET', '/apis', undefined],
    ['GET', '/apis/apps/v1', undefined],
    ['GET', '/api/v1', undefined],
  ];
  for (const [method, url, want] of cases)
    it(`${method} ${url}`, () => {
      const a = requestAttributes(method, url);
      const got =
        a && `${a.verb} ${a.group || '""'} ${a.resource} ${a.namespace ?? '-'}${a.name ? ` ${a.name}` : ''}`;
      assert.equal(got, want);
    });
});

describe('grantsOf', () => {
  it('expands rules into group/resource/verb triples', () => {
    assert.deepEqual(
      grantsOf([
        { apiGroups: [''], resources: ['pods', 'services'], verbs: ['list', 'watch'] },
        { apiGroups: ['apps'], resources: ['replicasets'], verbs: ['create'] },
      ]),
      ['"" pods list', '"" pods watch', '"" services list', '"" services watch', 'apps replicasets create'],
    );
  });
  it('refuses "*" anywhere', () => {
    for (const r of [
      { apiGroups: ['*'], resources: ['pods'], verbs: ['get'] },
      { apiGroups: [''], resources: ['*'], verbs: ['get'] },
      { apiGroups: [''], resources: ['pods'], verbs: ['*'] },
    ])
      assert.throws(() => grantsOf([r]), /grants "\*"/);
  });
});
