import assert from 'node:assert/strict';
import { test } from 'node:test';
import { testNamespace } from '../../support/cluster.ts';
import {
  applyIngress,
  canary,
  createApp,
  get,
  patchAnnotations,
  startTestDataPlane,
  tally,
  waitForCanary,
  waitForEndpoints,
} from './support.ts';

/**
 * The central interval of Binomial(n, p) that holds at least `confidence` of
 * the probability mass, computed exactly from the distribution (each tail
 * ≤ (1 − confidence) / 2).
 */
export function binomialInterval(n: number, p: number, confidence: number): [number, number] {
  const pmf: number[] = [];
  let v = (1 - p) ** n;
  for (let k = 0; k <= n; k++) {
    pmf.push(v);
    v = (v * (n - k) * p) / ((k + 1) * (1 - p));
  }
  const tail = (1 - confidence) / 2;
  let lo = 0;
  let below = 0;
  while (below + pmf[lo]! <= tail) below += pmf[lo++]!;
  let hi = n;
  let above = 0;
  while (above + pmf[hi]! <= tail) above += pmf[hi--]!;
  return [lo, hi];
}

test('binomialInterval matches the normal approximation for a large sample', () => {
  const [lo, hi] = binomialInterval(2000, 0.1, 0.999);
  // mean 200, sd ≈ 13.4; 3.29 sd ≈ 44
  assert.ok(lo > 150 && lo < 160, `lo ${lo}`);
  assert.ok(hi > 240 && hi < 250, `hi ${hi}`);
});

test('weight accuracy over real nginx and pods', async (t) => {
  const ns = await testNamespace(t, 'dp-weight');
  await createApp(ns, 'stable', 'v1', 2);
  await createApp(ns, 'canary', 'v2', 2);
  await waitForEndpoints(ns, 'stable', 2);
  await waitForEndpoints(ns, 'canary', 2);
  const dp = await startTestDataPlane(ns);
  t.after(() => dp.stop());
  await applyIngress(ns, { name: 'main', host: 'w', paths: [{ path: '/', service: 'stable' }] });
  await applyIngress(ns, {
    name: 'main-canary',
    host: 'w',
    paths: [{ path: '/', service: 'canary' }],
    annotations: canary({ 'canary-weight': '10' }),
  });

  await t.test(
    'weight 10: the canary share of 2,000 requests is inside the binomial 99.9% interval',
    async () => {
      await waitForCanary(dp, 'main-canary', (c) => c.attachedTo.length > 0 && c.weight === 10);
      const n = 2000;
      const counts = await tally(dp.httpPort, 'w', '/', n, {}, 16);
      assert.equal((counts.v1 ?? 0) + (counts.v2 ?? 0), n, JSON.stringify(counts));
      const [lo, hi] = binomialInterval(n, 0.1, 0.999);
      const canaryShare = counts.v2 ?? 0;
      assert.ok(
        canaryShare >= lo && canaryShare <= hi,
        `${canaryShare} canary answers, expected ${lo}..${hi}`,
      );
    },
  );

  await t.test('weight 0 sends none to the canary', async () => {
    await patchAnnotations(ns, 'main-canary', { 'nginx.ingress.kubernetes.io/canary-weight': '0' });
    await waitForCanary(dp, 'main-canary', (c) => c.weight === 0);
    assert.deepEqual(await tally(dp.httpPort, 'w', '/', 500, {}, 16), { v1: 500 });
  });

  await t.test('weight 100 sends all to the canary', async () => {
    await patchAnnotations(ns, 'main-canary', { 'nginx.ingress.kubernetes.io/canary-weight': '100' });
    await waitForCanary(dp, 'main-canary', (c) => c.weight === 100);
    assert.deepEqual(await tally(dp.httpPort, 'w', '/', 500, {}, 16), { v2: 500 });
  });

  await t.test(
    'weight-total 1000: weight 250 is a quarter; ≤ 100 totals are ignored like ingress-nginx',
    async () => {
      await patchAnnotations(ns, 'main-canary', {
        'nginx.ingress.kubernetes.io/canary-weight': '250',
        'nginx.ingress.kubernetes.io/canary-weight-total': '1000',
      });
      await waitForCanary(dp, 'main-canary', (c) => c.weight === 250 && c.weightTotal === 1000);
      const n = 1000;
      const counts = await tally(dp.httpPort, 'w', '/', n, {}, 16);
      const [lo, hi] = binomialInterval(n, 0.25, 0.999);
      assert.ok(
        (counts.v2 ?? 0) >= lo && (counts.v2 ?? 0) <= hi,
        `${counts.v2} canary answers, expected ${lo}..${hi}`,
      );
      // quirk 31: a total of 50 is treated as 100
      await patchAnnotations(ns, 'main-canary', {
        'nginx.ingress.kubernetes.io/canary-weight': '50',
        'nginx.ingress.kubernetes.io/canary-weight-total': '50',
      });
      const c = await waitForCanary(dp, 'main-canary', (x) => x.weight === 50);
      assert.equal(c.weightTotal, 100);
      assert.equal(c.percent, 50);
    },
  );

  await t.test('both endpoints of each side get traffic (round robin over ready endpoints)', async () => {
    const seen = new Set<string>();
    for (let i = 0; i < 40; i++) {
      const r = await get(dp.httpPort, 'w', '/');
      seen.add((JSON.parse(r.body) as { pod: string }).pod);
    }
    assert.equal(seen.size, 4, [...seen].join(', '));
  });
});
