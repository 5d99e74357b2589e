/**
 * The address a data plane writes to its Ingresses' status: its own, or (--publish-service) the
 * Service's, by ingress-nginx's rules for each Service type — so every replica writes the same.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  normalise,
  type PublishedService,
  parsePublishService,
  serviceAddresses,
  statusIs,
} from '../../../src/dataplane/status.ts';

describe('serviceAddresses', () => {
  const cases: [string, PublishedService, ReturnType<typeof serviceAddresses>][] = [
    [
      'ClusterIP: its cluster IP',
      { spec: { type: 'ClusterIP', clusterIP: '10.96.0.20' } },
      [{ ip: '10.96.0.20' }],
    ],
    ['no type is ClusterIP', { spec: { clusterIP: '10.96.0.21' } }, [{ ip: '10.96.0.21' }]],
    ['a headless Service has no address', { spec: { type: 'ClusterIP', clusterIP: 'None' } }, []],
    [
      'ExternalName: the name, as a hostname',
      { spec: { type: 'ExternalName', externalName: 'lb.example.com' } },
      [{ hostname: 'lb.example.com' }],
    ],
    [
      'NodePort without external IPs: the cluster IP',
      { spec: { type: 'NodePort', clusterIP: '10.96.0.22' } },
      [{ ip: '10.96.0.22' }],
    ],
    [
      'NodePort with external IPs: those, not the cluster IP',
      { spec: { type: 'NodePort', clusterIP: '10.96.0.22', externalIPs: ['192.0.2.1', '192.0.2.2'] } },
      [{ ip: '192.0.2.1' }, { ip: '192.0.2.2' }],
    ],
    [
      'LoadBalancer: its ingress points (the IP when both are set) and external IPs, never the cluster IP',
      {
        spec: { type: 'LoadBalancer', clusterIP: '10.96.0.23', externalIPs: ['192.0.2.9'] },
        status: {
          loadBalancer: {
            ingress: [
              { ip: '198.51.100.4', hostname: 'ignored.example.com' },
              { hostname: 'lb.example.com' },
            ],
          },
        },
      },
      [{ ip: '198.51.100.4' }, { hostname: 'lb.example.com' }, { ip: '192.0.2.9' }],
    ],
    [
      'LoadBalancer still pending: nothing',
      { spec: { type: 'LoadBalancer', clusterIP: '10.96.0.24' }, status: { loadBalancer: {} } },
      [],
    ],
  ];
  for (const [name, svc, want] of cases) it(name, () => assert.deepEqual(serviceAddresses(svc), want));
});

describe('normalise and statusIs', () => {
  it('sorts by hostname, then IP, and drops duplicates', () => {
    assert.deepEqual(
      normalise([
        { ip: '10.0.0.2' },
        { hostname: 'b.example' },
        { ip: '10.0.0.1' },
        { hostname: 'a.example' },
        { ip: '10.0.0.2' },
      ]),
      [{ ip: '10.0.0.1' }, { ip: '10.0.0.2' }, { hostname: 'a.example' }, { hostname: 'b.example' }],
    );
  });
  it('the order the API server lists the addresses in makes no write; another address does', () => {
    const want = normalise([{ ip: '10.0.0.1' }, { ip: '10.0.0.2' }]);
    assert.equal(statusIs([{ ip: '10.0.0.2' }, { ip: '10.0.0.1' }], want), true);
    assert.equal(statusIs([{ ip: '10.0.0.1' }], want), false);
    assert.equal(statusIs([{ ip: '10.0.0.1' }, { ip: '10.0.0.3' }], want), false);
    assert.equal(statusIs(undefined, want), false);
    assert.equal(statusIs([{ ip: '10.0.0.1', hostname: 'x' }], normalise([{ ip: '10.0.0.1' }])), false);
    // the API server may send empty strings for the field not set
    assert.equal(statusIs([{ ip: '10.0.0.1', hostname: '' }], normalise([{ ip: '10.0.0.1' }])), true);
  });
});

describe('parsePublishService', () => {
  it('takes namespace/name', () =>
    assert.deepEqual(parsePublishService('kanary/kanary-ingress'), {
      namespace: 'kanary',
      name: 'kanary-ingress',
    }));
  for (const bad of ['kanary-ingress', 'a/b/c', '/x', 'x/', 'NS/x', 'ns/x_y', `ns/${'a'.repeat(64)}`])
    it(`refuses '${bad}'`, () => assert.ok('error' in parsePublishService(bad)));
});
