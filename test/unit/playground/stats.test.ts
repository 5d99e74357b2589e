import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { acceptanceRegion, normalQuantile, wilsonInterval } from '../../../src/playground/stats.ts';

describe('normalQuantile', () => {
  const cases: [number, number][] = [
    [0.5, 0],
    [0.975, 1.959964],
    [0.995, 2.575829],
    [0.9995, 3.290527],
    [0.005, -2.575829],
  ];
  for (const [p, z] of cases) it(`Φ⁻¹(${p}) ≈ ${z}`, () => assert.ok(Math.abs(normalQuantile(p) - z) < 1e-5));
  it('rejects probabilities outside (0, 1)', () => assert.throws(() => normalQuantile(1), RangeError));
});

describe('wilsonInterval', () => {
  it('brackets the observed share and narrows with n', () => {
    const small = wilsonInterval(10, 100);
    const large = wilsonInterval(100, 1000);
    for (const i of [small, large]) assert.ok(i.low < 0.1 && i.high > 0.1);
    assert.ok(large.high - large.low < small.high - small.low);
  });
  it('matches a known value (100 of 1000 at 99%: about 0.0783 to 0.1271)', () => {
    const i = wilsonInterval(100, 1000, 0.99);
    assert.ok(Math.abs(i.low - 0.0783) < 5e-4, String(i.low));
    assert.ok(Math.abs(i.high - 0.1271) < 5e-4, String(i.high));
  });
  it('stays inside [0, 1] at the edges', () => {
    assert.equal(wilsonInterval(0, 50).low, 0);
    assert.equal(wilsonInterval(50, 50).high, 1);
  });
});

describe('acceptanceRegion', () => {
  it('covers the mean and is about ±2.58σ wide for a large n', () => {
    const { min, max } = acceptanceRegion(0.1, 2000, 0.99);
    const sd = Math.sqrt(2000 * 0.1 * 0.9);
    assert.ok(min < 200 && max > 200);
    assert.ok(Math.abs(200 - min - 2.576 * sd) < 3, `min ${min}`);
    assert.ok(Math.abs(max - 200 - 2.576 * sd) < 3, `max ${max}`);
  });
  it('is exact at 0 and 1', () => {
    assert.deepEqual(acceptanceRegion(0, 100), { min: 0, max: 0 });
    assert.deepEqual(acceptanceRegion(1, 100), { min: 100, max: 100 });
  });
});
