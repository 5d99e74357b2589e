import assert from 'node:assert/strict';
import { test } from 'node:test';
import { findOffenders } from '../../../src/dataplane/isolate.ts';

test('findOffenders isolates every bad item with few checks', async (t) => {
  const items = Array.from({ length: 64 }, (_, i) => `ing-${i}`);
  const cases: { name: string; bad: string[]; maxChecks: number }[] = [
    { name: 'none bad', bad: [], maxChecks: 2 },
    { name: 'one bad', bad: ['ing-37'], maxChecks: 2 + 2 * 6 + 1 },
    { name: 'three bad', bad: ['ing-0', 'ing-31', 'ing-63'], maxChecks: 2 + 3 * 2 * 6 + 1 },
  ];
  for (const c of cases) {
    await t.test(c.name, async () => {
      let checks = 0;
      const r = await findOffenders(items, async (included) => {
        checks++;
        return !included.some((i) => c.bad.includes(i));
      });
      assert.ok(r);
      assert.deepEqual(r.offenders.sort(), [...c.bad].sort());
      assert.equal(r.good.length, items.length - c.bad.length);
      assert.ok(checks <= c.maxChecks, `${checks} checks`);
    });
  }
});

test('a combination that is only bad together: the later item is the offender', async () => {
  const r = await findOffenders(['a', 'b', 'c'], async (inc) => !(inc.includes('a') && inc.includes('c')));
  assert.deepEqual(r, { good: ['a', 'b'], offenders: ['c'] });
});

test('a fault outside every item: undefined', async () => {
  assert.equal(await findOffenders(['a', 'b'], async () => false), undefined);
});
