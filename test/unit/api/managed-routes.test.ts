import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  managedRouteIngressName,
  parseManagedRoute,
  stringMatchError,
} from '../../../src/api/managed-routes.ts';

const DNS_NAME = /^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/;

describe('managedRouteIngressName', () => {
  it('is <rollout>-<stable>-<route>-route for a DNS-safe route name', () => {
    assert.equal(managedRouteIngressName('web', 'web', 'header-1'), 'web-web-header-1-route');
  });
  it('keeps two routes apart when their names only differ in characters a DNS name cannot hold', () => {
    const a = managedRouteIngressName('web', 'web', 'Beta_Users');
    const b = managedRouteIngressName('web', 'web', 'beta-users');
    assert.notEqual(a, b);
    assert.match(a, /^web-web-beta-users-[0-9a-f]{8}-route$/);
    assert.match(managedRouteIngressName('web', 'web', '***'), /^web-web-r-[0-9a-f]{8}-route$/);
  });
  it('fits 253 characters and stays a DNS name, distinct per route', () => {
    const long = 'x'.repeat(200);
    const a = managedRouteIngressName(long, long, 'one');
    const b = managedRouteIngressName(long, long, 'two');
    for (const n of [a, b]) {
      assert.ok(n.length <= 253, `${n.length}`);
      assert.match(n, DNS_NAME);
    }
    assert.notEqual(a, b);
  });
});

describe('stringMatchError (Argo: exactly one of exact, prefix, regex)', () => {
  const cases: [unknown, string | undefined][] = [
    [{ exact: 'a' }, undefined],
    [{ prefix: 'a' }, undefined],
    [{ regex: '^a' }, undefined],
    [{ exact: '', prefix: 'p' }, undefined],
    [{}, 'StringMatch value missed, match value must have one of the following: exact, regex, prefix'],
    [null, 'StringMatch value missed, match value must have one of the following: exact, regex, prefix'],
    [
      { exact: 'a', regex: 'b' },
      'StringMatch match value must have exactly one of the following: exact, regex, prefix',
    ],
  ];
  for (const [m, want] of cases) it(JSON.stringify(m), () => assert.equal(stringMatchError(m), want));
});

describe('parseManagedRoute (what the data plane reads)', () => {
  const header = (extra: Record<string, string> = {}) => ({
    'kanary.dev/managed-route': 'h',
    'kanary.dev/managed-route-type': 'header',
    'kanary.dev/managed-route-precedence': '2',
    'kanary.dev/managed-route-match': '[{"headerName":"X-A","headerValue":{"exact":"1"}}]',
    ...extra,
  });
  it('is undefined on an Ingress without a route', () =>
    assert.equal(parseManagedRoute({ a: 'b' }), undefined));
  it('reads a header route', () =>
    assert.deepEqual(parseManagedRoute(header()), {
      type: 'header',
      name: 'h',
      precedence: 2,
      match: [{ headerName: 'X-A', headerValue: { exact: '1' } }],
    }));
  it('reads a mirror route, 100% by default', () =>
    assert.deepEqual(
      parseManagedRoute(
        header({
          'kanary.dev/managed-route-type': 'mirror',
          'kanary.dev/managed-route-match': '[{"method":{"exact":"GET"},"headers":{"X-B":{"prefix":"b"}}}]',
        }),
      ),
      {
        type: 'mirror',
        name: 'h',
        precedence: 2,
        match: [{ method: { exact: 'GET' }, headers: { 'X-B': { prefix: 'b' } } }],
        percentage: 100,
      },
    ));
  const bad: [string, Record<string, string>, RegExp][] = [
    ['unknown type', header({ 'kanary.dev/managed-route-type': 'weight' }), /must be "header" or "mirror"/],
    [
      'precedence not a number',
      header({ 'kanary.dev/managed-route-precedence': '-1' }),
      /non-negative integer/,
    ],
    ['match not JSON', header({ 'kanary.dev/managed-route-match': '[{' }), /not valid JSON/],
    ['match empty', header({ 'kanary.dev/managed-route-match': '[]' }), /non-empty JSON array/],
    [
      'header name with a space',
      header({ 'kanary.dev/managed-route-match': '[{"headerName":"X A","headerValue":{"exact":"1"}}]' }),
      /headerName must be a header name/,
    ],
    [
      'header value with two kinds',
      header({
        'kanary.dev/managed-route-match': '[{"headerName":"X","headerValue":{"exact":"1","regex":"2"}}]',
      }),
      /exactly one/,
    ],
    [
      'mirror percentage above 100',
      header({
        'kanary.dev/managed-route-type': 'mirror',
        'kanary.dev/managed-route-match': '[{}]',
        'kanary.dev/mirror-percentage': '101',
      }),
      /from 0 to 100/,
    ],
  ];
  for (const [name, annotations, want] of bad) {
    it(`refuses ${name}`, () => {
      const got = parseManagedRoute(annotations);
      assert.ok(got && 'error' in got, JSON.stringify(got));
      assert.match(got.error, want);
    });
  }
});
