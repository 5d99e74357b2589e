import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { DataPlaneReport, ServedCanary, UnreadableReport } from '../../../src/api/dataplane-report.ts';
import { type CanaryTarget, verifyServedWeight } from '../../../src/traffic/verify.ts';

const NOW = 1_000_000;
const KEY = 'shop/web-web-canary';

function replica(
  name: string,
  canaries: Record<string, ServedCanary>,
  o: Partial<DataPlaneReport['body']> & { ageMs?: number; durationMs?: number } = {},
): DataPlaneReport {
  const { ageMs = 1000, durationMs = 15_000, ...body } = o;
  return {
    replica: name,
    lease: `kanary/kanary-ingress-${name}`,
    body: { v: 1, class: 'nginx', defaultClass: false, namespace: '', canaries, ...body },
    lastChangeMs: NOW - ageMs,
    durationMs,
  };
}
const target = (o: Partial<CanaryTarget> = {}): CanaryTarget => ({
  key: KEY,
  namespace: 'shop',
  ingressClass: 'nginx',
  version: 'v200',
  ...o,
});
const at = (weight: number, version = 'v200', total = 100): ServedCanary => ({ version, weight, total });

const unreadable = (ageMs: number): UnreadableReport => ({
  lease: 'kanary/kanary-ingress-c',
  error: 'Lease kanary/kanary-ingress-c: kanary.dev/served-canaries is not JSON (x)',
  lastChangeMs: NOW - ageMs,
  durationMs: 15_000,
});

interface Case {
  name: string;
  reports: DataPlaneReport[] | undefined;
  unreadable?: UnreadableReport[];
  errors?: string[];
  targets?: CanaryTarget[];
  desired?: number;
  total?: number;
  /** undefined: cannot tell */
  verified: boolean | undefined;
  lagging?: string[];
  laggingReplicas?: string[];
  recheckAfterMs?: number;
}

const cases: Case[] = [
  { name: 'no reports at all', reports: undefined, verified: undefined },
  { name: 'an empty list of reports', reports: [], verified: undefined },
  {
    name: 'the only replica has not renewed its Lease within its duration',
    reports: [replica('a', { [KEY]: at(0) }, { ageMs: 15_000 })],
    verified: undefined,
  },
  {
    name: 'the live replica serves another class (another ingress controller serves this one)',
    reports: [replica('a', {}, { class: 'traefik' })],
    verified: undefined,
  },
  {
    name: 'the live replica watches another namespace',
    reports: [replica('a', {}, { namespace: 'other' })],
    verified: undefined,
  },
  {
    name: 'an Ingress without a class, replica of a class that is not the default',
    reports: [replica('a', {})],
    targets: [target({ ingressClass: undefined })],
    verified: undefined,
  },
  {
    name: 'serves the weight at the observed version',
    reports: [replica('a', { [KEY]: at(30) })],
    verified: true,
  },
  {
    name: 'serves the weight of another version (one the controller has not seen yet)',
    reports: [replica('a', { [KEY]: at(30, 'v201') })],
    verified: false,
  },
  {
    name: 'serves the weight of an older version',
    reports: [replica('a', { [KEY]: at(30, 'v199') })],
    verified: false,
    lagging: [`a serves weight 30/100 of ${KEY} (version v199, not the current v200; wanted 30/100)`],
    laggingReplicas: ['a'],
    recheckAfterMs: 14_000,
  },
  {
    name: 'serves another weight at the observed version',
    reports: [replica('a', { [KEY]: at(0) })],
    verified: false,
    laggingReplicas: ['a'],
  },
  {
    name: 'serves the weight out of another total',
    reports: [replica('a', { [KEY]: at(30, 'v200', 1000) })],
    verified: false,
    lagging: [`a serves weight 30/1000 of ${KEY} (its current version; wanted 30/100)`],
  },
  {
    name: 'maxTrafficWeight 1000: the weight out of 1000',
    reports: [replica('a', { [KEY]: at(300, 'v200', 1000) })],
    desired: 300,
    total: 1000,
    verified: true,
  },
  {
    name: 'a live replica of the class that has not loaded the canary Ingress',
    reports: [replica('a', {})],
    verified: false,
    lagging: [`a does not serve canary Ingress ${KEY} yet`],
  },
  {
    name: 'its report was truncated and has no room for the Ingress: cannot tell',
    reports: [replica('a', {}, { truncated: 3 })],
    verified: undefined,
  },
  {
    name: 'the canary Ingress does not exist yet',
    reports: [replica('a', {})],
    targets: [target({ version: undefined })],
    verified: false,
    lagging: [`a: canary Ingress ${KEY} is not created yet`],
  },
  {
    name: 'an Ingress without a class, replica of the default class',
    reports: [replica('a', { [KEY]: at(30) }, { defaultClass: true })],
    targets: [target({ ingressClass: undefined })],
    verified: true,
  },
  {
    name: 'two replicas, both serve it',
    reports: [replica('a', { [KEY]: at(30) }), replica('b', { [KEY]: at(30) })],
    verified: true,
  },
  {
    name: 'two replicas, the second lags: only it is named; recheck when its heartbeat expires',
    reports: [replica('a', { [KEY]: at(30) }), replica('b', { [KEY]: at(10) }, { ageMs: 4000 })],
    verified: false,
    laggingReplicas: ['b'],
    recheckAfterMs: 11_000,
  },
  {
    name: 'two replicas, the lagging one is no longer live: it does not count',
    reports: [replica('a', { [KEY]: at(30) }), replica('b', { [KEY]: at(10) }, { ageMs: 20_000 })],
    verified: true,
  },
  {
    name: 'two canary Ingresses (stableIngresses): one of them lags',
    reports: [replica('a', { [KEY]: at(30), 'shop/web-api-canary': at(0, 'v300') })],
    targets: [target(), target({ key: 'shop/web-api-canary', version: 'v300' })],
    verified: false,
    lagging: ['a serves weight 0/100 of shop/web-api-canary (its current version; wanted 30/100)'],
  },
  {
    name: 'two canary Ingresses, only one served by Kanary: the other does not count',
    reports: [replica('a', { [KEY]: at(30) })],
    targets: [target(), target({ key: 'shop/web-api-canary', ingressClass: 'traefik' })],
    verified: true,
  },
  {
    name: 'only an unreadable live report: cannot tell, and says why (a WeightVerifyError)',
    reports: [],
    unreadable: [unreadable(1000)],
    verified: undefined,
    errors: ['Lease kanary/kanary-ingress-c: kanary.dev/served-canaries is not JSON (x)'],
  },
  {
    name: 'an unreadable report that is no longer live says nothing',
    reports: [],
    unreadable: [unreadable(20_000)],
    verified: undefined,
    errors: [],
  },
  {
    name: 'an unreadable live report beside a replica serving the weight: verified, with the error',
    reports: [replica('a', { [KEY]: at(30) })],
    unreadable: [unreadable(1000)],
    verified: true,
    errors: ['Lease kanary/kanary-ingress-c: kanary.dev/served-canaries is not JSON (x)'],
  },
  {
    name: 'a namespaced replica of the Ingress namespace',
    reports: [replica('a', { [KEY]: at(30) }, { namespace: 'shop' })],
    verified: true,
  },
];

describe('verifyServedWeight', () => {
  for (const c of cases) {
    it(c.name, () => {
      const v = verifyServedWeight(
        c.reports,
        c.targets ?? [target()],
        c.desired ?? 30,
        c.total ?? 100,
        NOW,
        c.unreadable,
      );
      assert.equal(v?.verified, c.verified);
      assert.deepEqual(v?.errors ?? [], c.errors ?? []);
      if (c.verified === undefined) {
        if (!c.errors?.length) assert.equal(v, undefined);
        return;
      }
      if (c.verified) assert.deepEqual(v?.lagging, []);
      else assert.ok((v?.lagging.length ?? 0) > 0);
      if (c.lagging) assert.deepEqual(v?.lagging, c.lagging);
      if (c.laggingReplicas) assert.deepEqual(v?.laggingReplicas, c.laggingReplicas);
      if (c.recheckAfterMs !== undefined) assert.equal(v?.recheckAfterMs, c.recheckAfterMs);
      if (c.verified) assert.equal(v?.recheckAfterMs, undefined);
    });
  }
});
