import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  encodeReport,
  ingressContentHash,
  parseReportLease,
  REPORT_ANNOTATION,
  type ReportBody,
} from '../../../src/api/dataplane-report.ts';
import { reportLeaseName } from '../../../src/dataplane/report.ts';

const body = (n: number): Omit<ReportBody, 'truncated'> => ({
  v: 1,
  class: 'nginx',
  defaultClass: false,
  namespace: '',
  canaries: Object.fromEntries(
    Array.from({ length: n }, (_, i) => [
      `ns/canary-${String(i).padStart(4, '0')}`,
      { version: `${i}`, weight: 10, total: 100 },
    ]),
  ),
});

describe('encodeReport', () => {
  it('writes the whole report when it fits', () => {
    const b = body(3);
    assert.deepEqual(JSON.parse(encodeReport(b)), b);
  });

  for (const max of [2_000, 10_000, 50_000]) {
    it(`keeps the report below ${max} bytes, the first Ingresses by name, and counts the rest`, () => {
      const text = encodeReport(body(2000), max);
      assert.ok(Buffer.byteLength(text) <= max, `${Buffer.byteLength(text)} > ${max}`);
      const parsed = JSON.parse(text) as ReportBody;
      const kept = Object.keys(parsed.canaries);
      assert.ok(kept.length > 0);
      assert.equal(kept.length + (parsed.truncated ?? 0), 2000);
      assert.deepEqual(kept, Object.keys(body(kept.length).canaries));
      // not one more would have fitted
      const next = `"ns/canary-${String(kept.length).padStart(4, '0')}":${JSON.stringify({ version: `${kept.length}`, weight: 10, total: 100 })},`;
      assert.ok(Buffer.byteLength(text) + Buffer.byteLength(next) > max);
    });
  }
});

describe('parseReportLease', () => {
  const lease = (
    annotation: string | undefined,
    spec: { holderIdentity?: string; leaseDurationSeconds?: number } = {
      holderIdentity: 'kanary-ingress-a',
      leaseDurationSeconds: 6,
    },
  ) => ({
    metadata: {
      name: 'kanary-ingress-a',
      namespace: 'kanary',
      annotations: (annotation === undefined ? {} : { [REPORT_ANNOTATION]: annotation }) as Record<
        string,
        string
      >,
    },
    spec,
  });

  it('reads a report, its replica and its lease duration', () => {
    const got = parseReportLease(lease(encodeReport(body(1))), 42);
    assert.ok('report' in got);
    assert.equal(got.report.replica, 'kanary-ingress-a');
    assert.equal(got.report.lease, 'kanary/kanary-ingress-a');
    assert.equal(got.report.durationMs, 6000);
    assert.equal(got.report.lastChangeMs, 42);
    assert.deepEqual(got.report.body, body(1));
  });

  it('a Lease without a duration lasts 15 s (the Lease default of client-go)', () => {
    const got = parseReportLease(lease(encodeReport(body(0)), {}), 0);
    assert.ok('report' in got);
    assert.equal(got.report.durationMs, 15_000);
    assert.equal(got.report.replica, 'kanary-ingress-a');
  });

  for (const [name, text, error] of [
    ['no annotation', undefined, /has no kanary.dev\/served-canaries annotation/],
    ['not JSON', '{', /is not JSON/],
    ['another version', JSON.stringify({ ...body(0), v: 2 }), /is not a version 1 report/],
    ['no canaries', JSON.stringify({ v: 1, class: 'nginx' }), /is not a version 1 report/],
    ['null', 'null', /is not a version 1 report/],
  ] as const) {
    it(`refuses a report with ${name}`, () => {
      const got = parseReportLease(lease(text), 0);
      assert.ok('error' in got);
      assert.match(got.error, error);
    });
  }
});

describe('reportLeaseName', () => {
  for (const [replica, name] of [
    ['kanary-ingress-7d9f-abcde', 'kanary-ingress-kanary-ingress-7d9f-abcde'],
    ['My_Host.local', 'kanary-ingress-my-host.local'],
    ['--', 'kanary-ingress-replica'],
    ['x'.repeat(300), `kanary-ingress-${'x'.repeat(238)}`],
  ] as const) {
    it(`${replica.slice(0, 20)} → ${name.slice(0, 40)}`, () => {
      assert.equal(reportLeaseName(replica), name);
      assert.match(name, /^[a-z0-9]([a-z0-9.-]*[a-z0-9])?$/);
    });
  }
});

describe('ingressContentHash', () => {
  type Obj = Parameters<typeof ingressContentHash>[0];
  const ing = {
    metadata: {
      name: 'web-canary',
      resourceVersion: '10',
      annotations: {
        'nginx.ingress.kubernetes.io/canary': 'true',
        'nginx.ingress.kubernetes.io/canary-weight': '30',
      },
    },
    spec: { ingressClassName: 'nginx', rules: [{ host: 'a.example' }] },
    status: { loadBalancer: { ingress: [{ ip: '10.0.0.1' }] } },
  };
  const h = ingressContentHash(ing);

  it('is the same whatever the resourceVersion and status (status writes do not make a new version)', () => {
    assert.equal(
      ingressContentHash({
        ...ing,
        metadata: { ...ing.metadata, resourceVersion: '11' },
        status: { loadBalancer: { ingress: [{ ip: '10.0.0.2' }] } },
      } as Obj),
      h,
    );
  });
  it('does not depend on the order of keys', () => {
    const annotations = Object.fromEntries(Object.entries(ing.metadata.annotations).reverse());
    assert.equal(
      ingressContentHash({
        metadata: { annotations },
        spec: { rules: ing.spec.rules, ingressClassName: 'nginx' },
      }),
      h,
    );
  });
  it('changes with the weight annotation and with the spec', () => {
    const w = { ...ing.metadata.annotations, 'nginx.ingress.kubernetes.io/canary-weight': '31' };
    assert.notEqual(ingressContentHash({ ...ing, metadata: { ...ing.metadata, annotations: w } }), h);
    assert.notEqual(ingressContentHash({ ...ing, spec: { ...ing.spec, rules: [{ host: 'b.example' }] } }), h);
  });
  it('is 16 hex digits', () => assert.match(h, /^[0-9a-f]{16}$/));
});
