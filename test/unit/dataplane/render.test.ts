import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeEach, test } from 'node:test';
import { promisify } from 'node:util';
import { buildModel } from '../../../src/dataplane/build.ts';
import { ensureDefaultCert, prepareStateDir } from '../../../src/dataplane/nginx.ts';
import {
  configHash,
  locationsFor,
  quote,
  quoteLiteral,
  type RenderEnv,
  renderConfig,
  renderState,
  serverName,
} from '../../../src/dataplane/render.ts';
import type { Location } from '../../../src/dataplane/types.ts';
import { ENV, ing, OPTS, resetClock, snapshot, tlsSecret } from './fixtures.ts';

const exec = promisify(execFile);
const GOLDEN = join(import.meta.dirname, '..', '..', 'golden', 'dataplane');
const UPDATE = process.env.UPDATE_GOLDEN === '1';

beforeEach(() => resetClock());

/** With PCRE's verdict on the broken Ingress's path, as the controller's regex check gives it (regex.ts). */
const BUILD = {
  ...OPTS,
  regexErrors: new Map([['/(', 'pcre2_compile() failed: missing closing parenthesis in "^/("']]),
};

/** A cluster that exercises every feature of the renderer at once. */
function everything() {
  return snapshot(
    [
      ing('shop', {
        rules: [
          {
            host: 'shop.example.com',
            paths: [
              ['/', 'app'],
              ['/api', 'app'],
              ['/health', 'other', 'Exact'],
              ['/static', 'other', 'ImplementationSpecific'],
            ],
          },
          { host: '*.shop.example.com', paths: [['/', 'app']] },
        ],
        tls: [{ hosts: ['shop.example.com'], secretName: 'shop-tls' }],
      }),
      ing('shop-canary', {
        host: 'shop.example.com',
        paths: [['/api', 'app-canary']],
        canary: {
          'canary-by-header': 'X-Canary',
          'canary-by-header-value': 'yes',
          'canary-by-cookie': 'canary',
          'canary-weight': '20',
          'canary-weight-total': '1000',
        },
      }),
      ing('rewrite', {
        host: 'rw.example.com',
        paths: [['/something(/|$)(.*)', 'app', 'ImplementationSpecific']],
        annotations: { 'nginx.ingress.kubernetes.io/rewrite-target': '/$2' },
      }),
      ing('default', { defaultBackend: 'other' }),
      ing('broken', {
        host: 'broken.example.com',
        paths: [['/(', 'app', 'ImplementationSpecific']],
        annotations: { 'nginx.ingress.kubernetes.io/use-regex': 'true' },
      }),
    ],
    { secrets: [tlsSecret('shop-tls')] },
  );
}

function golden(name: string, actual: string): void {
  const file = join(GOLDEN, name);
  if (UPDATE || !existsSync(file)) {
    mkdirSync(GOLDEN, { recursive: true });
    writeFileSync(file, actual);
    if (!UPDATE) assert.fail(`golden file ${name} was missing and has been written; check it and run again`);
    return;
  }
  assert.equal(actual, readFileSync(file, 'utf8'), `${name} differs (UPDATE_GOLDEN=1 rewrites it)`);
}

test('golden: nginx.conf and dynamic state for a cluster using every feature', () => {
  const model = buildModel(everything(), BUILD);
  golden('everything.nginx.conf', renderConfig(model, ENV));
  golden('everything.state.json', `${JSON.stringify(renderState(model), null, 2)}\n`);
  golden('everything.problems.json', `${JSON.stringify(model.problems, null, 2)}\n`);
});

test('weights and endpoints are not part of nginx.conf: changing them needs no reload', () => {
  const base = everything();
  const config = renderConfig(buildModel(base, BUILD), ENV);
  const changed = everything();
  const canary = changed.ingresses.find((i) => i.metadata.name === 'shop-canary')!;
  canary.metadata.annotations!['nginx.ingress.kubernetes.io/canary-weight'] = '900';
  changed.endpointSlices[0]!.endpoints!.push({ addresses: ['10.244.3.3'] });
  const model = buildModel(changed, BUILD);
  assert.equal(renderConfig(model, ENV), config);
  assert.notDeepEqual(renderState(model), renderState(buildModel(base, BUILD)));
});

test('the config hash served by the admin endpoint identifies the configuration', () => {
  const a = renderConfig(buildModel(everything(), BUILD), ENV);
  const b = renderConfig(buildModel(snapshot([]), BUILD), ENV);
  assert.match(configHash(a), /^[0-9a-f]{16}$/);
  assert.notEqual(configHash(a), configHash(b));
});

test('location syntax per pathType and regex mode', async (t) => {
  const l = (path: string, pathType: Location['pathType'], regex = false): Location => ({
    id: 'x',
    host: 'h',
    path,
    pathType,
    regex,
    ingress: 'n/i',
    namespace: 'n',
    ingressName: 'i',
    service: 's',
    upstream: 'u',
  });
  const cases: [string, Location, string[]][] = [
    ['Exact', l('/a', 'Exact'), ['= /a']],
    ['Prefix adds an exact twin and a slash', l('/a', 'Prefix'), [' /a/', '= /a']],
    ['Prefix with a trailing slash', l('/a/', 'Prefix'), [' /a/', '= /a']],
    ['Prefix root', l('/', 'Prefix'), [' /']],
    ['ImplementationSpecific is an nginx prefix', l('/a', 'ImplementationSpecific'), [' /a']],
    ['regex mode: case-insensitive anchored regex', l('/a.*', 'ImplementationSpecific', true), ['~* ^/a.*']],
    ['regex mode: Prefix too', l('/a', 'Prefix', true), ['~* ^/a']],
    ['regex mode: Exact stays exact', l('/a', 'Exact', true), ['= /a']],
  ];
  for (const [name, loc, want] of cases) {
    await t.test(name, () =>
      assert.deepEqual(
        locationsFor(loc).map((r) => `${r.modifier} ${r.path}`),
        want,
      ),
    );
  }
});

test('server names: Kubernetes wildcards cover exactly one label', () => {
  assert.equal(serverName(''), '_');
  assert.equal(serverName('foo.example.com'), 'foo.example.com');
  assert.equal(serverName('*.example.com'), '"~^[^.]+\\\\.example\\\\.com$"');
});

test('quoting: quotes and backslashes escaped; a literal $ in set values', () => {
  assert.equal(quote('a"b\\c'), '"a\\"b\\\\c"');
  // biome-ignore lint/suspicious/noTemplateCurlyInString: nginx variable syntax
  assert.equal(quoteLiteral('/x(/|$)'), '"/x(/|${kanary_dollar})"');
});

test('renderState: routes carry canary rules; endpoints split into address and port', () => {
  const state = renderState(buildModel(everything(), BUILD));
  const withCanary = Object.values(state.routes).filter((r) => r.canary);
  assert.equal(withCanary.length, 1);
  assert.deepEqual(withCanary[0]?.canary, {
    ingress: 'shop/shop-canary',
    upstream: 'shop-app-canary-80',
    header: 'X-Canary',
    headerVar: 'x_canary',
    headerValue: 'yes',
    headerPattern: '',
    cookie: 'canary',
    weight: 20,
    weightTotal: 1000,
  });
  assert.deepEqual(state.upstreams['shop-app-80'], [
    ['10.244.1.2', 80],
    ['10.244.2.2', 80],
  ]);
});

test('worker_shutdown_timeout is rendered when set, and only as an nginx time', () => {
  const model = buildModel(everything(), OPTS);
  assert.match(renderConfig(model, ENV), /^worker_shutdown_timeout 240s;$/m);
  assert.doesNotMatch(
    renderConfig(model, { ...ENV, workerShutdownTimeout: undefined }),
    /worker_shutdown_timeout/,
  );
  assert.match(
    renderConfig(model, { ...ENV, workerShutdownTimeout: '1500ms' }),
    /^worker_shutdown_timeout 1500ms;$/m,
  );
  assert.throws(() => renderConfig(model, { ...ENV, workerShutdownTimeout: '1s; daemon on' }), /unexpected/);
});

test('nginx -t accepts what the renderer produces', {
  skip: !existsSync('/usr/lib/nginx/modules/ngx_http_lua_module.so') && 'lua module missing',
}, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'kanary-render-'));
  try {
    prepareStateDir(dir);
    const cert = await ensureDefaultCert(dir);
    const env: RenderEnv = {
      ...ENV,
      stateDir: dir,
      luaDir: join(import.meta.dirname, '..', '..', '..', 'src', 'dataplane', 'lua'),
      defaultCert: cert,
    };
    // everything except the Secret-backed TLS (fixture PEM is not a real certificate)
    const snap = everything();
    snap.secrets = [];
    const conf = join(dir, 'nginx.conf');
    writeFileSync(conf, renderConfig(buildModel(snap, BUILD), env));
    await exec('nginx', ['-t', '-q', '-p', dir, '-c', conf, '-e', 'stderr']);
    // the state file the master loads at start: a good one, and a damaged one, never fail the test
    writeFileSync(
      join(dir, 'state.json'),
      JSON.stringify({ version: 1, ...renderState(buildModel(snap, OPTS)) }),
    );
    await exec('nginx', ['-t', '-q', '-p', dir, '-c', conf, '-e', 'stderr']);
    writeFileSync(join(dir, 'state.json'), '{"version": 2, "routes": {');
    await exec('nginx', ['-t', '-q', '-p', dir, '-c', conf, '-e', 'stderr']);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('metrics source and access log: what each combination renders, and what is refused', async (t) => {
  const model = buildModel(everything(), BUILD);
  await t.test('default: the JSON access log, no Lua in the log phase', () => {
    const c = renderConfig(model, ENV);
    assert.match(c, /access_log \S+ kanary buffer=64k flush=1s;/);
    assert.doesNotMatch(c, /log_by_lua|kanary_metrics/);
  });
  await t.test('nginx: counted in the log phase, read on the admin socket', () => {
    const c = renderConfig(model, { ...ENV, metricsSource: 'nginx', maxMetricSeries: 5000 });
    assert.match(c, /lua_shared_dict kanary_metrics 28m;/);
    assert.match(c, /require\("kanary_metrics"\)\.init_worker\(5000\)/);
    assert.match(c, /log_by_lua_block \{ require\("kanary_metrics"\)\.log\(\) \}/);
    assert.match(c, /location = \/metrics \{ content_by_lua_block/);
    assert.match(c, /access_log \S+ kanary /);
  });
  await t.test('the access log in nginx’s own format, or none', () => {
    const d = renderConfig(model, { ...ENV, metricsSource: 'nginx', accessLog: 'default' });
    assert.match(d, /access_log \S+ combined buffer=64k flush=1s;/);
    assert.doesNotMatch(d, /log_format kanary/);
    const off = renderConfig(model, { ...ENV, metricsSource: 'nginx', accessLog: 'off' });
    assert.doesNotMatch(off, /access_log \/\S+/);
  });
  await t.test('the log pipeline needs the JSON log', () => {
    for (const accessLog of ['default', 'off'] as const) {
      assert.throws(() => renderConfig(model, { ...ENV, accessLog }), /needs metrics source "nginx"/);
    }
  });
});
