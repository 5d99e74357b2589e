import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { selectorMatches as matchesSelector } from '../../../src/api/selector.ts';
import { createMergePatch } from '../../../src/rollout/json.ts';

describe('createMergePatch', () => {
  const cases: [string, unknown, unknown, unknown][] = [
    ['no change', { a: 1, b: { c: [1, 2] } }, { a: 1, b: { c: [1, 2] } }, undefined],
    ['changed scalar', { a: 1 }, { a: 2 }, { a: 2 }],
    ['removed key → null', { a: 1, b: 2 }, { a: 1 }, { b: null }],
    ['undefined counts as removed', { a: 1, b: 2 }, { a: 1, b: undefined }, { b: null }],
    ['nested change only', { s: { x: 1, y: 2 } }, { s: { x: 1, y: 3 } }, { s: { y: 3 } }],
    ['array replaced whole', { l: [1, 2] }, { l: [1] }, { l: [1] }],
    ['new object', {}, { s: { x: 1 } }, { s: { x: 1 } }],
    ['object to scalar', { s: { x: 1 } }, { s: 'v' }, { s: 'v' }],
    ['null stays unpatched when already null', { a: null }, {}, undefined],
  ];
  for (const [name, from, to, want] of cases)
    it(name, () => assert.deepEqual(createMergePatch(from, to), want));
});

describe('matchesSelector', () => {
  const labels = { app: 'web', tier: 'fe' };
  const cases: [string, Parameters<typeof matchesSelector>[0], boolean][] = [
    ['matchLabels subset', { matchLabels: { app: 'web' } }, true],
    ['matchLabels mismatch', { matchLabels: { app: 'db' } }, false],
    ['empty selector matches all', {}, true],
    ['nil selector matches nothing', undefined, false],
    ['In', { matchExpressions: [{ key: 'tier', operator: 'In', values: ['fe', 'be'] }] }, true],
    ['NotIn', { matchExpressions: [{ key: 'tier', operator: 'NotIn', values: ['fe'] }] }, false],
    ['Exists', { matchExpressions: [{ key: 'app', operator: 'Exists' }] }, true],
    ['DoesNotExist', { matchExpressions: [{ key: 'app', operator: 'DoesNotExist' }] }, false],
    ['unknown operator', { matchExpressions: [{ key: 'app', operator: 'Near' }] }, false],
  ];
  for (const [name, sel, want] of cases) it(name, () => assert.equal(matchesSelector(sel, labels), want));
});
