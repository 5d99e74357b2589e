import assert from 'node:assert/strict';
import { beforeEach, test } from 'node:test';
import { buildModel, regexPaths, sortIngresses } from '../../../src/dataplane/build.ts';
import type { DataPlaneModel, Location } from '../../../src/dataplane/types.ts';
import { ing, NS, OPTS, resetClock, slice, snapshot, svc, tlsSecret } from './fixtures.ts';

beforeEach(() => resetClock());

const locations = (m: DataPlaneModel): Location[] => m.servers.flatMap((s) => s.locations);
const loc = (m: DataPlaneModel, host: string, path: string) =>
  locations(m).find((l) => l.host === host && l.path === path);

test('upstreams come from ready EndpointSlice addresses, never from the cluster IP', () => {
  const m = buildModel(
    snapshot([ing('main', { host: 'foo', paths: [['/', 'web']] })], {
      services: [svc('web')],
      endpointSlices: [
        slice('web', [
          { ip: '10.244.0.5' },
          { ip: '10.244.0.6', ready: false },
          { ip: '10.244.0.7', ready: null },
        ]),
        slice('web', [{ ip: '10.244.1.5', ready: false, terminating: true }, { ip: '10.244.1.6' }]),
      ],
    }),
    OPTS,
  );
  assert.deepEqual(m.upstreams[`${NS}-web-80`]?.endpoints, [
    '10.244.0.5:80',
    '10.244.0.7:80',
    '10.244.1.6:80',
  ]);
});

test('a named service port selects the matching EndpointSlice port', () => {
  const m = buildModel(
    snapshot([ing('main', { host: 'foo', rules: [{ host: 'foo', paths: [['/', 'named']] }] })], {
      services: [
        svc('named', NS, [
          { name: 'http', port: 80 },
          { name: 'admin', port: 9000 },
        ]),
      ],
      endpointSlices: [
        slice('named', [{ ip: '10.244.0.5' }], 8080, NS, 'http'),
        slice('named', [{ ip: '10.244.0.5' }], 9090, NS, 'admin'),
      ],
    }),
    OPTS,
  );
  assert.deepEqual(m.upstreams[`${NS}-named-80`]?.endpoints, ['10.244.0.5:8080']);
});

test('ingress class: spec.ingressClassName, the legacy annotation, and the default class', () => {
  const ingresses = [
    ing('by-spec', { host: 'a', paths: [['/', 'app']] }),
    ing('by-annotation', {
      host: 'b',
      paths: [['/', 'app']],
      className: null,
      annotations: { 'kubernetes.io/ingress.class': 'nginx' },
    }),
    ing('other-class', { host: 'c', paths: [['/', 'app']], className: 'traefik' }),
    ing('no-class', { host: 'd', paths: [['/', 'app']], className: null }),
  ];
  assert.deepEqual(buildModel(snapshot(ingresses), OPTS).owned, [`${NS}/by-spec`, `${NS}/by-annotation`]);
  const withDefault = snapshot(ingresses, {
    ingressClasses: [
      { metadata: { name: 'nginx', annotations: { 'ingressclass.kubernetes.io/is-default-class': 'true' } } },
    ],
  });
  assert.deepEqual(buildModel(withDefault, OPTS).owned, [
    `${NS}/by-spec`,
    `${NS}/by-annotation`,
    `${NS}/no-class`,
  ]);
  assert.deepEqual(buildModel(snapshot(ingresses), { ...OPTS, ingressClass: 'traefik' }).owned, [
    `${NS}/other-class`,
  ]);
});

test('canary merge rules', async (t) => {
  const main = () => ing('main', { host: 'foo', paths: [['/info', 'app']] });
  const cases: {
    name: string;
    ingresses: () => ReturnType<typeof ing>[];
    attached: string | undefined; // canary Ingress attached to foo /info
    unmatched?: RegExp;
  }[] = [
    {
      name: 'same host, path and pathType: merged',
      ingresses: () => [
        main(),
        ing('c', { host: 'foo', paths: [['/info', 'app-canary']], canary: { 'canary-weight': '10' } }),
      ],
      attached: `${NS}/c`,
    },
    {
      name: 'creation order does not matter',
      ingresses: () => [ing('c', { host: 'foo', paths: [['/info', 'app-canary']], canary: {} }), main()],
      attached: `${NS}/c`,
    },
    {
      name: 'different pathType: not merged (quirk 35)',
      ingresses: () => [
        main(),
        ing('c', { host: 'foo', paths: [['/info', 'app-canary', 'ImplementationSpecific']], canary: {} }),
      ],
      attached: undefined,
      unmatched: /pathType/,
    },
    {
      name: 'unknown host: not merged, and no server for it',
      ingresses: () => [main(), ing('c', { host: 'bar', paths: [['/info', 'app-canary']], canary: {} })],
      attached: undefined,
      unmatched: /host "bar"/,
    },
    {
      name: 'canary backend equal to the main backend: not merged',
      ingresses: () => [main(), ing('c', { host: 'foo', paths: [['/info', 'app']], canary: {} })],
      attached: undefined,
      unmatched: /same Service port/,
    },
    {
      name: 'two canaries: the oldest wins (case 39)',
      ingresses: () => [
        main(),
        ing('old', { host: 'foo', paths: [['/info', 'app-canary']], canary: {} }),
        ing('new', { host: 'foo', paths: [['/info', 'other']], canary: {} }),
      ],
      attached: `${NS}/old`,
      unmatched: /older canary shop\/old/,
    },
    {
      name: 'two canaries created in the same second: namespace/name decides',
      ingresses: () => [
        main(),
        ing('zz', {
          host: 'foo',
          paths: [['/info', 'app-canary']],
          canary: {},
          created: '2026-01-01T00:01:00Z',
        }),
        ing('aa', { host: 'foo', paths: [['/info', 'other']], canary: {}, created: '2026-01-01T00:01:00Z' }),
      ],
      attached: `${NS}/aa`,
    },
    {
      name: 'canary in another namespace: not merged',
      ingresses: () => [
        main(),
        ing('c', { ns: 'elsewhere', host: 'foo', paths: [['/info', 'app-canary']], canary: {} }),
      ],
      attached: undefined,
      unmatched: /another namespace/,
    },
    {
      name: 'canary annotations without canary: true make a normal Ingress (conflicting path, ignored)',
      ingresses: () => [
        main(),
        ing('c', {
          host: 'foo',
          paths: [['/info', 'app-canary']],
          annotations: { 'nginx.ingress.kubernetes.io/canary-weight': '50' },
        }),
      ],
      attached: undefined,
    },
  ];
  for (const c of cases) {
    await t.test(c.name, () => {
      resetClock();
      const m = buildModel(snapshot(c.ingresses()), OPTS);
      assert.equal(loc(m, 'foo', '/info')?.canary?.ingress, c.attached);
      if (c.unmatched) {
        const msgs = m.canaries.flatMap((x) => x.unmatched.map((u) => u.reason));
        assert.ok(
          msgs.some((r) => c.unmatched!.test(r)),
          JSON.stringify(msgs),
        );
      }
      // a canary never creates a server of its own
      assert.deepEqual(
        m.servers.map((s) => s.host),
        ['foo'],
      );
    });
  }
});

test('better than ingress-nginx: a canary with one unmatched path still applies to its matched path', () => {
  const m = buildModel(
    snapshot([
      ing('main', { host: 'foo', paths: [['/info', 'app']] }),
      ing('c', {
        host: 'foo',
        paths: [
          ['/info', 'app-canary'],
          ['/other', 'app-canary'],
        ],
        canary: { 'canary-weight': '5' },
      }),
    ]),
    OPTS,
  );
  assert.equal(loc(m, 'foo', '/info')?.canary?.upstream, `${NS}-app-canary-80`);
  assert.deepEqual(
    m.canaries[0]?.unmatched.map((u) => u.path),
    ['/other'],
  );
  assert.ok(
    m.problems.some((p) => p.reason === 'CanaryNotMerged' && !p.excluded && /\/other/.test(p.message)),
  );
});

test('better than ingress-nginx: a canary is scoped to its host and path, not to every user of the stable Service', () => {
  const m = buildModel(
    snapshot([
      ing('foo', { host: 'foo', paths: [['/a', 'app']] }),
      ing('bar', { host: 'bar', paths: [['/b', 'app']] }),
      ing('c', { host: 'foo', paths: [['/a', 'app-canary']], canary: { 'canary-weight': '100' } }),
    ]),
    OPTS,
  );
  assert.ok(loc(m, 'foo', '/a')?.canary);
  assert.equal(loc(m, 'bar', '/b')?.canary, undefined);
});

test('a canary defaultBackend merges into the catch-all root of the main defaultBackend (case 19)', () => {
  const m = buildModel(
    snapshot([
      ing('c', { defaultBackend: 'app-canary', canary: { 'canary-by-header': 'X' } }),
      ing('main', { defaultBackend: 'app' }),
    ]),
    OPTS,
  );
  const root = loc(m, '', '/');
  assert.equal(root?.upstream, `${NS}-app-80`);
  assert.equal(root?.canary?.upstream, `${NS}-app-canary-80`);
});

test('a defaultBackend also serves unmatched paths of the Ingress own hosts', () => {
  const m = buildModel(
    snapshot([ing('main', { host: 'foo', paths: [['/info', 'app']], defaultBackend: 'other' })]),
    OPTS,
  );
  assert.equal(loc(m, 'foo', '/')?.upstream, `${NS}-other-80`);
  assert.equal(loc(m, '', '/')?.upstream, `${NS}-other-80`);
});

test('two Ingresses on one host and path: the oldest serves it, the other is reported', () => {
  const m = buildModel(
    snapshot([
      ing('first', { host: 'foo', paths: [['/x', 'app']] }),
      ing('second', {
        host: 'foo',
        paths: [
          ['/x', 'other'],
          ['/y', 'other'],
        ],
      }),
    ]),
    OPTS,
  );
  assert.equal(loc(m, 'foo', '/x')?.ingress, `${NS}/first`);
  assert.equal(loc(m, 'foo', '/y')?.ingress, `${NS}/second`);
  assert.ok(m.problems.some((p) => p.ingress === `${NS}/second` && p.reason === 'PathConflict'));
});

test('use-regex or rewrite-target on one Ingress puts the whole host in regex mode', () => {
  const m = buildModel(
    snapshot([
      ing('plain', { host: 'foo', paths: [['/plain', 'app']] }),
      ing('re', {
        host: 'foo',
        paths: [['/re.*', 'app', 'ImplementationSpecific']],
        annotations: { 'nginx.ingress.kubernetes.io/use-regex': 'true' },
      }),
      ing('other-host', { host: 'bar', paths: [['/plain', 'app']] }),
    ]),
    OPTS,
  );
  assert.equal(loc(m, 'foo', '/plain')?.regex, true);
  assert.equal(loc(m, 'bar', '/plain')?.regex, false);
});

test("regex paths: PCRE syntax that JavaScript rejects is built; only PCRE's verdict leaves an Ingress out", () => {
  const pcre = ['(?i)^/v1/Foo', '/a++b', '/(?>x|y)z'];
  const snap = snapshot([
    ing('pcre', {
      host: 're',
      paths: pcre.map((p): [string, string, string] => [p, 'app', 'ImplementationSpecific']),
      annotations: { 'nginx.ingress.kubernetes.io/use-regex': 'true' },
    }),
    ing('bad', {
      host: 'bad',
      paths: [['/a{2,1}', 'app', 'ImplementationSpecific']],
      annotations: { 'nginx.ingress.kubernetes.io/use-regex': 'true' },
    }),
  ]);
  const regexErrors = new Map([['/a{2,1}', 'pcre2_compile() failed: numbers out of order in {} quantifier']]);
  const m = buildModel(snap, { ...OPTS, regexErrors });
  assert.deepEqual(
    locations(m)
      .filter((l) => l.host === 're')
      .map((l) => [l.path, l.regex]),
    [...pcre].sort((a, b) => b.length - a.length || (a < b ? -1 : 1)).map((p) => [p, true]),
  );
  assert.deepEqual(
    m.problems.map((p) => [p.ingress, p.excluded, p.reason]),
    [[`${NS}/bad`, true, 'InvalidIngress']],
  );
  assert.match(
    m.problems[0]!.message,
    /path "\/a\{2,1\}" is not a valid regular expression .*numbers out of order/,
  );
});

test('regexPaths: the non-Exact paths of hosts in regex mode, once each, for PCRE to judge', () => {
  const re = { 'nginx.ingress.kubernetes.io/use-regex': 'true' };
  const snap = snapshot([
    ing('re', {
      host: 're',
      paths: [
        ['/r(.*)', 'app', 'ImplementationSpecific'],
        ['/exact', 'app', 'Exact'],
      ],
      annotations: re,
    }),
    // not asking for regex itself, but on a host in regex mode: its paths are regexes too
    ing('plain-same-host', {
      host: 're',
      paths: [
        ['/plain', 'app'],
        ['/r(.*)', 'app', 'ImplementationSpecific'],
      ],
    }),
    ing('plain-other-host', { host: 'other', paths: [['/p(', 'app']] }),
    ing('rewrite', {
      host: 'rw',
      paths: [['/rw(/|$)(.*)', 'app', 'ImplementationSpecific']],
      annotations: { 'nginx.ingress.kubernetes.io/rewrite-target': '/$2' },
    }),
    ing('control', { host: 're', paths: [['/a\nb', 'app', 'ImplementationSpecific']], annotations: re }),
    ing('canary', {
      host: 're',
      paths: [['/canary(', 'app', 'ImplementationSpecific']],
      canary: { 'canary-weight': '10', 'use-regex': 'true' },
    }),
    ing('foreign', {
      host: 'x',
      paths: [['/f(', 'app', 'ImplementationSpecific']],
      annotations: re,
      className: 'other',
    }),
  ]);
  assert.deepEqual(regexPaths(snap, OPTS).sort(), ['/plain', '/r(.*)', '/rw(/|$)(.*)']);
});

test('invalid input is left out with a reason, the rest is built', async (t) => {
  const good = () => ing('good', { host: 'good', paths: [['/', 'app']] });
  const cases: { name: string; bad: () => ReturnType<typeof ing>; reason: RegExp }[] = [
    {
      name: 'invalid regex path',
      bad: () =>
        ing('bad', {
          host: 'bad',
          paths: [['/(unclosed', 'app', 'ImplementationSpecific']],
          annotations: { 'nginx.ingress.kubernetes.io/use-regex': 'true' },
        }),
      reason: /not a valid regular expression .*: pcre2_compile\(\) failed: missing closing parenthesis/,
    },
    {
      name: 'invalid host',
      bad: () => ing('bad', { host: 'Bad Host', paths: [['/', 'app']] }),
      reason: /not a valid DNS name/,
    },
    {
      name: 'unknown pathType',
      bad: () => ing('bad', { host: 'bad', paths: [['/', 'app', 'Fuzzy']] }),
      reason: /unknown pathType/,
    },
    {
      name: 'control characters in a path',
      bad: () => ing('bad', { host: 'bad', paths: [['/a\nb', 'app']] }),
      reason: /control characters/,
    },
    {
      name: 'Prefix path without a leading slash',
      bad: () => ing('bad', { host: 'bad', paths: [['api', 'app']] }),
      reason: /must start with/,
    },
    {
      name: 'control characters in rewrite-target',
      bad: () =>
        ing('bad', {
          host: 'bad',
          paths: [['/', 'app']],
          annotations: { 'nginx.ingress.kubernetes.io/rewrite-target': '/\r\n' },
        }),
      reason: /rewrite-target/,
    },
  ];
  for (const c of cases) {
    await t.test(c.name, () => {
      // PCRE's verdict, as the controller's nginx -t of the regex locations gives it (regex.ts)
      const regexErrors = new Map([
        ['/(unclosed', 'pcre2_compile() failed: missing closing parenthesis in "^/(unclosed" at ""'],
      ]);
      const m = buildModel(snapshot([good(), c.bad()]), { ...OPTS, regexErrors });
      const p = m.problems.find((x) => x.ingress === `${NS}/bad`);
      assert.ok(p?.excluded, JSON.stringify(m.problems));
      assert.match(p.message, c.reason);
      assert.ok(loc(m, 'good', '/'));
      assert.equal(
        m.servers.some((s) => s.host === 'bad'),
        false,
      );
    });
  }
});

test('an explicitly excluded Ingress (rejected by nginx -t) is left out and reported', () => {
  const m = buildModel(
    snapshot([
      ing('a', { host: 'a', paths: [['/', 'app']] }),
      ing('b', { host: 'b', paths: [['/', 'app']] }),
    ]),
    OPTS,
    new Set([`${NS}/b`]),
  );
  assert.deepEqual(
    m.servers.map((s) => s.host),
    ['a'],
  );
  assert.ok(m.problems.some((p) => p.ingress === `${NS}/b` && p.excluded));
});

test('TLS: certificate files per Secret, wildcard TLS hosts, missing Secrets reported', () => {
  const m = buildModel(
    snapshot(
      [
        ing('secure', {
          rules: [
            { host: 'a.example.com', paths: [['/', 'app']] },
            { host: 'b.example.com', paths: [['/', 'app']] },
          ],
          tls: [{ hosts: ['*.example.com'], secretName: 'wild' }],
        }),
        ing('missing', {
          host: 'm.test',
          paths: [['/', 'app']],
          tls: [{ hosts: ['m.test'], secretName: 'nope' }],
        }),
      ],
      { secrets: [tlsSecret('wild')] },
    ),
    OPTS,
  );
  const a = m.servers.find((s) => s.host === 'a.example.com');
  assert.equal(a?.tls?.secret, `${NS}/wild`);
  assert.equal(a?.sslRedirect, true);
  assert.equal(m.servers.find((s) => s.host === 'b.example.com')?.tls?.certFile, a?.tls?.certFile);
  assert.equal(m.servers.find((s) => s.host === 'm.test')?.tls, undefined);
  assert.deepEqual(
    m.tlsFiles.map((f) => f.name.replace(/_[0-9a-f]{12}/, '_H')),
    [`${NS}_wild_H.crt`, `${NS}_wild_H.key`],
  );
  assert.ok(
    m.problems.some((p) => p.ingress === `${NS}/missing` && p.reason === 'TLSSecretMissing' && !p.excluded),
  );
});

test('a missing Service is reported and its upstream has no endpoints (served as 503)', () => {
  const m = buildModel(snapshot([ing('main', { host: 'foo', paths: [['/', 'ghost']] })]), OPTS);
  assert.deepEqual(m.upstreams[`${NS}-ghost-80`]?.endpoints, []);
  assert.ok(m.problems.some((p) => p.reason === 'ServiceNotFound'));
});

test('location ids are stable across builds and differ per host, path, type and Ingress', () => {
  const build = () =>
    buildModel(
      snapshot([
        ing('main', {
          host: 'foo',
          paths: [
            ['/a', 'app'],
            ['/b', 'app'],
            ['/a', 'app', 'Exact'],
          ],
        }),
      ]),
      OPTS,
    );
  resetClock();
  const ids1 = locations(build()).map((l) => l.id);
  resetClock();
  const ids2 = locations(build()).map((l) => l.id);
  assert.deepEqual(ids1, ids2);
  assert.equal(new Set(ids1).size, 3);
});

test('sortIngresses: oldest first, then namespace/name', () => {
  const a = ing('b', { created: '2026-01-01T00:00:01Z' });
  const b = ing('a', { created: '2026-01-01T00:00:01Z' });
  const c = ing('z', { created: '2026-01-01T00:00:00Z' });
  assert.deepEqual(
    sortIngresses([a, b, c]).map((i) => i.metadata.name),
    ['z', 'a', 'b'],
  );
});
