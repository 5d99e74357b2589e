import assert from 'node:assert/strict';
import { beforeEach, test } from 'node:test';
import { buildModel } from '../../../src/dataplane/build.ts';
import { renderConfig, renderState } from '../../../src/dataplane/render.ts';
import type { DataPlaneModel } from '../../../src/dataplane/types.ts';
import { ENV, ing, NS, OPTS, resetClock, slice, snapshot, svc } from './fixtures.ts';

beforeEach(() => resetClock());

const route = (name: string, type: string, match: unknown, extra: Record<string, string> = {}) => ({
  'kanary.dev/managed-route': name,
  'kanary.dev/managed-route-type': type,
  'kanary.dev/managed-route-match': JSON.stringify(match),
  ...extra,
});
const main = () => ing('main', { host: 'foo', paths: [['/', 'app']] });
const services = {
  services: [svc('app'), svc('app-canary')],
  endpointSlices: [slice('app', [{ ip: '10.244.0.5' }]), slice('app-canary', [{ ip: '10.244.0.6' }])],
};
const only = (m: DataPlaneModel) => {
  const l = m.servers.flatMap((s) => s.locations).find((x) => x.host === 'foo' && x.path === '/');
  assert.ok(l, 'the location exists');
  return l;
};

test('managed routes attach beside the weighted canary: header routes by precedence, mirrors apart', () => {
  const m = buildModel(
    snapshot(
      [
        main(),
        ing('weighted', { host: 'foo', paths: [['/', 'app-canary']], canary: { 'canary-weight': '10' } }),
        ing('second', {
          host: 'foo',
          paths: [['/', 'app-canary']],
          canary: { 'canary-weight': '0' },
          annotations: route('b', 'header', [{ headerName: 'X-B', headerValue: { prefix: 'b' } }], {
            'kanary.dev/managed-route-precedence': '1',
          }),
        }),
        ing('first', {
          host: 'foo',
          paths: [['/', 'app-canary']],
          canary: { 'canary-weight': '0' },
          annotations: route('a', 'header', [{ headerName: 'X-A', headerValue: { regex: 'a+' } }], {
            'kanary.dev/managed-route-precedence': '0',
          }),
        }),
        ing('copy', {
          host: 'foo',
          paths: [['/', 'app-canary']],
          canary: { 'canary-weight': '0' },
          annotations: route('m', 'mirror', [{ method: { exact: 'GET' } }], {
            'kanary.dev/mirror-percentage': '50',
          }),
        }),
      ],
      services,
    ),
    OPTS,
  );
  const l = only(m);
  assert.equal(l.canary?.ingress, `${NS}/weighted`, 'the weighted canary keeps its place');
  assert.deepEqual(
    l.headerRoutes?.map((h) => h.ingress),
    [`${NS}/first`, `${NS}/second`],
  );
  assert.deepEqual(
    l.mirrors?.map((h) => h.ingress),
    [`${NS}/copy`],
  );
  assert.deepEqual(m.problems, []);
  const state = renderState(m).routes[l.id];
  assert.deepEqual(state?.headerRoutes, [
    { ingress: `${NS}/first`, upstream: `${NS}-app-canary-80`, match: [{ var: 'x_a', regex: '^(?:a+)$' }] },
    { ingress: `${NS}/second`, upstream: `${NS}-app-canary-80`, match: [{ var: 'x_b', prefix: 'b' }] },
  ]);
  assert.deepEqual(state?.mirrors, [
    {
      ingress: `${NS}/copy`,
      upstream: `${NS}-app-canary-80`,
      percentage: 50,
      match: [{ method: { exact: 'GET' } }],
    },
  ]);
  assert.deepEqual(
    m.canaries.filter((c) => c.route).map((c) => [c.name, c.route?.type]),
    [
      ['second', 'header'],
      ['first', 'header'],
      ['copy', 'mirror'],
    ],
  );
});

test('only a location with a mirror runs the mirror handler; header routes need no reload', () => {
  const header = ing('h', {
    host: 'foo',
    paths: [['/', 'app-canary']],
    canary: { 'canary-weight': '0' },
    annotations: route('h', 'header', [{ headerName: 'X-H', headerValue: { exact: '1' } }]),
  });
  const mirror = ing('m', {
    host: 'foo',
    paths: [['/', 'app-canary']],
    canary: { 'canary-weight': '0' },
    annotations: route('m', 'mirror', [{ path: { prefix: '/' } }]),
  });
  const plain = renderConfig(buildModel(snapshot([main()], services), OPTS), ENV);
  const withHeader = renderConfig(buildModel(snapshot([main(), header], services), OPTS), ENV);
  const withMirror = renderConfig(buildModel(snapshot([main(), mirror], services), OPTS), ENV);
  assert.equal(withHeader, plain);
  assert.notEqual(withMirror, plain);
  assert.equal(withMirror.split('require("kanary").mirror()').length - 1, 1);
});

test('a broken managed route is left out with a problem, never served as a plain canary', () => {
  const broken = ing('broken', {
    host: 'foo',
    paths: [['/', 'app-canary']],
    canary: { 'canary-weight': '100' },
    annotations: route('x', 'header', [{ headerName: 'X', headerValue: { exact: 'a', prefix: 'b' } }]),
  });
  const m = buildModel(snapshot([main(), broken], services), OPTS);
  const l = only(m);
  assert.equal(l.canary, undefined);
  assert.equal(l.headerRoutes, undefined);
  assert.deepEqual(
    m.problems.map((p) => [p.ingress, p.reason, p.excluded]),
    [[`${NS}/broken`, 'InvalidManagedRoute', true]],
  );
  assert.match(m.problems[0]?.message ?? '', /exactly one of the following/);
});
