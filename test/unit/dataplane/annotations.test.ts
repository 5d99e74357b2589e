import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseAnnotations } from '../../../src/dataplane/annotations.ts';
import { ing } from './fixtures.ts';

const P = 'nginx.ingress.kubernetes.io';
const parse = (a: Record<string, string>, prefix = P) =>
  parseAnnotations(ing('x', { annotations: a }), prefix);

test('canary annotations: values, defaults and ingress-nginx fallbacks', async (t) => {
  const cases: {
    name: string;
    annotations: Record<string, string>;
    expect: Partial<ReturnType<typeof parse>['rules']> & { canary?: boolean };
    warning?: RegExp;
  }[] = [
    {
      name: 'nothing set: defaults',
      annotations: {},
      expect: { canary: false, weight: 0, weightTotal: 100, header: '' },
    },
    { name: 'canary true', annotations: { [`${P}/canary`]: 'true' }, expect: { canary: true } },
    {
      name: 'canary True is not a boolean',
      annotations: { [`${P}/canary`]: 'True' },
      expect: { canary: false },
      warning: /not a boolean/,
    },
    {
      name: 'weight',
      annotations: { [`${P}/canary`]: 'true', [`${P}/canary-weight`]: '25' },
      expect: { weight: 25 },
    },
    {
      name: 'weight not an integer → 0',
      annotations: { [`${P}/canary`]: 'true', [`${P}/canary-weight`]: '2.5' },
      expect: { weight: 0 },
      warning: /not an integer/,
    },
    {
      name: 'negative weight kept (never canary)',
      annotations: { [`${P}/canary`]: 'true', [`${P}/canary-weight`]: '-5' },
      expect: { weight: -5 },
    },
    {
      name: 'weight-total above 100 is used',
      annotations: { [`${P}/canary`]: 'true', [`${P}/canary-weight-total`]: '1000' },
      expect: { weightTotal: 1000 },
    },
    {
      name: 'weight-total 50 becomes 100 (quirk 31)',
      annotations: { [`${P}/canary`]: 'true', [`${P}/canary-weight-total`]: '50' },
      expect: { weightTotal: 100 },
      warning: /not above 100/,
    },
    {
      name: 'header with spaces stripped',
      annotations: { [`${P}/canary`]: 'true', [`${P}/canary-by-header`]: ' X-Canary ' },
      expect: { header: 'X-Canary' },
    },
    {
      name: 'header with forbidden characters ignored',
      annotations: { [`${P}/canary`]: 'true', [`${P}/canary-by-header`]: 'X$Canary' },
      expect: { header: '' },
      warning: /not allowed/,
    },
    {
      name: 'header value',
      annotations: { [`${P}/canary`]: 'true', [`${P}/canary-by-header-value`]: 'DoCanary' },
      expect: { headerValue: 'DoCanary' },
    },
    {
      name: 'header pattern keeps regex characters',
      annotations: { [`${P}/canary`]: 'true', [`${P}/canary-by-header-pattern`]: '^Do[A-Z][a-z]+y$' },
      expect: { headerPattern: '^Do[A-Z][a-z]+y$' },
    },
    {
      name: 'header pattern with a space is rejected',
      annotations: { [`${P}/canary`]: 'true', [`${P}/canary-by-header-pattern`]: 'a b' },
      expect: { headerPattern: '' },
      warning: /not allowed/,
    },
    {
      name: 'cookie',
      annotations: { [`${P}/canary`]: 'true', [`${P}/canary-by-cookie`]: 'Canary-By-Cookie' },
      expect: { cookie: 'Canary-By-Cookie' },
    },
    {
      name: 'configured but not enabled',
      annotations: { [`${P}/canary-weight`]: '10' },
      expect: { canary: false, weight: 10 },
      warning: /not "true"/,
    },
    {
      name: 'header name nginx cannot look up',
      annotations: { [`${P}/canary`]: 'true', [`${P}/canary-by-header`]: 'x.canary' },
      expect: { header: 'x.canary' },
      warning: /cannot look up/,
    },
  ];
  for (const c of cases) {
    await t.test(c.name, () => {
      const r = parse(c.annotations);
      const { canary, ...rules } = c.expect;
      if (canary !== undefined) assert.equal(r.canary, canary);
      for (const [k, v] of Object.entries(rules)) assert.equal(r.rules[k as keyof typeof r.rules], v, k);
      if (c.warning)
        assert.ok(
          r.warnings.some((w) => c.warning!.test(w.message)),
          JSON.stringify(r.warnings),
        );
      else assert.deepEqual(r.warnings, []);
    });
  }
});

test('a custom annotation prefix is honoured and the default one ignored', () => {
  const r = parse(
    { 'custom.io/canary': 'true', 'custom.io/canary-weight': '7', [`${P}/canary-weight`]: '99' },
    'custom.io',
  );
  assert.equal(r.canary, true);
  assert.equal(r.rules.weight, 7);
});

test('use-regex, rewrite-target and ssl-redirect', () => {
  const r = parse({
    [`${P}/use-regex`]: 'true',
    [`${P}/rewrite-target`]: '/$2',
    [`${P}/ssl-redirect`]: 'false',
  });
  assert.equal(r.useRegex, true);
  assert.equal(r.rewriteTarget, '/$2');
  assert.equal(r.sslRedirect, false);
  assert.equal(parse({}).sslRedirect, undefined);
});
