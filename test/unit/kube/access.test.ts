import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { after, describe, it } from 'node:test';
import { stringify } from 'yaml';
import { UserError } from '../../../src/cli/errors.ts';
import {
  type AccessSpec,
  ClusterAccess,
  findAccess,
  mergeKubeconfigs,
  parseKubeconfig,
  resolveAccess,
  TOKEN_FILE_REFRESH_MS,
} from '../../../src/kube/access.ts';
import { loadKubeConfig } from '../../../src/kube/config.ts';

const dir = mkdtempSync(join(tmpdir(), 'kanary-access-'));
after(() => rmSync(dir, { recursive: true, force: true }));

interface Entry {
  name: string;
  [k: string]: unknown;
}
const kubeconfig = (o: { clusters?: Entry[]; users?: Entry[]; contexts?: Entry[]; current?: string }) =>
  stringify({
    apiVersion: 'v1',
    kind: 'Config',
    clusters: (o.clusters ?? []).map(({ name, ...cluster }) => ({ name, cluster })),
    users: (o.users ?? []).map(({ name, ...user }) => ({ name, user })),
    contexts: (o.contexts ?? []).map(({ name, ...context }) => ({ name, context })),
    'current-context': o.current,
  });
const write = (name: string, text: string) => {
  const p = join(dir, name);
  mkdirSync(join(p, '..'), { recursive: true });
  writeFileSync(p, text);
  return p;
};
const dev = { name: 'dev', server: 'https://10.0.0.1:6443/', 'certificate-authority-data': 'Q0E=' };
const devCtx = { name: 'dev', cluster: 'dev', user: 'alice', namespace: 'shop' };

describe('resolveAccess: one kubeconfig', () => {
  const cases: {
    name: string;
    file?: string;
    config: Parameters<typeof kubeconfig>[0];
    context?: string;
    want: Partial<AccessSpec>;
  }[] = [
    {
      name: 'current-context: server (trailing slash dropped), CA data, token, namespace',
      config: {
        clusters: [dev],
        users: [{ name: 'alice', token: 't0k' }],
        contexts: [devCtx],
        current: 'dev',
      },
      want: {
        context: 'dev',
        server: 'https://10.0.0.1:6443',
        caData: 'Q0E=',
        token: 't0k',
        namespace: 'shop',
      },
    },
    {
      name: '--context overrides current-context',
      config: {
        clusters: [dev, { name: 'prod', server: 'https://prod:443' }],
        users: [{ name: 'alice', token: 'a' }],
        contexts: [devCtx, { name: 'prod', cluster: 'prod', user: 'alice' }],
        current: 'dev',
      },
      context: 'prod',
      want: { context: 'prod', server: 'https://prod:443', namespace: undefined },
    },
    {
      name: 'relative paths resolve against the kubeconfig folder',
      file: 'nested/kc.yaml',
      config: {
        clusters: [{ name: 'dev', server: 'https://h', 'certificate-authority': 'pki/ca.crt' }],
        users: [
          { name: 'alice', 'client-certificate': 'pki/a.crt', 'client-key': '/abs/a.key', tokenFile: 'tok' },
        ],
        contexts: [devCtx],
        current: 'dev',
      },
      want: {
        caFile: join(dir, 'nested/pki/ca.crt'),
        certFile: join(dir, 'nested/pki/a.crt'),
        keyFile: '/abs/a.key',
        tokenFile: join(dir, 'nested/tok'),
      },
    },
    {
      name: 'inline data overrides a file given next to it (as client-go)',
      config: {
        clusters: [
          {
            name: 'dev',
            server: 'https://h',
            'certificate-authority': '/ca',
            'certificate-authority-data': 'Q0E=',
          },
        ],
        users: [
          {
            name: 'alice',
            'client-certificate': '/c',
            'client-certificate-data': 'Qw==',
            'client-key': '/k',
            'client-key-data': 'Sw==',
          },
        ],
        contexts: [devCtx],
        current: 'dev',
      },
      want: {
        caFile: undefined,
        caData: 'Q0E=',
        certFile: undefined,
        certData: 'Qw==',
        keyFile: undefined,
        keyData: 'Sw==',
      },
    },
    {
      name: 'insecure-skip-tls-verify, tls-server-name, basic auth, impersonation',
      config: {
        clusters: [
          {
            name: 'dev',
            server: 'https://h',
            'insecure-skip-tls-verify': true,
            'tls-server-name': 'api.local',
          },
        ],
        users: [
          { name: 'alice', username: 'al', password: 'pw', as: 'bob', 'as-groups': ['ops'], 'as-uid': '7' },
        ],
        contexts: [devCtx],
        current: 'dev',
      },
      want: {
        insecureSkipTlsVerify: true,
        tlsServerName: 'api.local',
        username: 'al',
        password: 'pw',
        impersonate: { user: 'bob', uid: '7', groups: ['ops'], extra: undefined },
      },
    },
    {
      name: 'a context without a user connects anonymously',
      config: { clusters: [dev], contexts: [{ name: 'dev', cluster: 'dev' }], current: 'dev' },
      want: { token: undefined, tokenFile: undefined, certData: undefined },
    },
    {
      name: 'exec plugin: client-node has to build the connection',
      config: {
        clusters: [dev],
        users: [{ name: 'alice', exec: { apiVersion: 'client.authentication.k8s.io/v1', command: 'aws' } }],
        contexts: [devCtx],
        current: 'dev',
      },
      want: { needsClientNode: 'user "alice" uses an exec' },
    },
    {
      name: 'auth provider: client-node has to build the connection',
      config: {
        clusters: [dev],
        users: [{ name: 'alice', 'auth-provider': { name: 'oidc', config: {} } }],
        contexts: [devCtx],
        current: 'dev',
      },
      want: { needsClientNode: 'user "alice" uses an auth-provider' },
    },
    {
      name: 'an http(s) proxy-url is ours to tunnel through',
      config: {
        clusters: [{ ...dev, 'proxy-url': 'http://proxy:3128' }],
        users: [{ name: 'alice', token: 't' }],
        contexts: [devCtx],
        current: 'dev',
      },
      want: { proxyUrl: 'http://proxy:3128', needsClientNode: undefined },
    },
    {
      name: 'a socks5 proxy-url: client-node has to build the connection',
      config: {
        clusters: [{ ...dev, 'proxy-url': 'socks5://proxy:1080' }],
        users: [{ name: 'alice', token: 't' }],
        contexts: [devCtx],
        current: 'dev',
      },
      want: { needsClientNode: 'cluster "dev" uses a proxy-url that is not http(s)' },
    },
    {
      name: 'within one file the first entry of a name counts',
      config: {
        clusters: [dev, { name: 'dev', server: 'https://second' }],
        users: [
          { name: 'alice', token: 'first' },
          { name: 'alice', token: 'second' },
        ],
        contexts: [devCtx],
        current: 'dev',
      },
      want: { server: 'https://10.0.0.1:6443', token: 'first' },
    },
  ];
  for (const c of cases)
    it(c.name, () => {
      const file = join(dir, c.file ?? 'kc.yaml');
      const got = resolveAccess(parseKubeconfig(kubeconfig(c.config), file), c.context);
      for (const [k, v] of Object.entries(c.want)) assert.deepEqual(got[k as keyof AccessSpec], v, k);
    });

  const errors: { name: string; text: string; context?: string; message: RegExp; hint?: RegExp }[] = [
    { name: 'not YAML', text: 'clusters: [\n', message: /cannot load kubeconfig .*kc\.yaml: not valid YAML/ },
    { name: 'not a map', text: '- a\n- b\n', message: /not a kubeconfig \(expected a map\)/ },
    { name: 'clusters not a list', text: 'clusters: {a: 1}\n', message: /clusters must be a list/ },
    {
      name: 'entry without a name',
      text: 'clusters:\n- cluster: {server: x}\n',
      message: /clusters\[0\] has no name/,
    },
    {
      name: 'server of the wrong type',
      text: kubeconfig({ clusters: [{ name: 'dev', server: 42 }] }),
      message: /cluster "dev": server must be a string/,
    },
    {
      name: 'insecure flag of the wrong type',
      text: kubeconfig({
        clusters: [{ name: 'dev', server: 'https://h', 'insecure-skip-tls-verify': 'yes' }],
      }),
      message: /insecure-skip-tls-verify must be true or false/,
    },
    {
      name: 'as-groups not a list',
      text: kubeconfig({ users: [{ name: 'u', 'as-groups': 'ops' }] }),
      message: /as-groups must be a list of strings/,
    },
    {
      name: 'no current-context and no --context',
      text: kubeconfig({ clusters: [dev], contexts: [devCtx] }),
      message: /no Kubernetes cluster configured: the kubeconfig has no current-context/,
    },
    {
      name: 'unknown context names the known ones',
      text: kubeconfig({ clusters: [dev], users: [{ name: 'alice' }], contexts: [devCtx], current: 'dev' }),
      context: 'prod',
      message: /context "prod" not found in kubeconfig/,
      hint: /known contexts: dev/,
    },
    {
      name: 'context naming a missing cluster',
      text: kubeconfig({ contexts: [devCtx], current: 'dev' }),
      message: /context "dev": cluster "dev" not found/,
    },
    {
      name: 'context naming a missing user',
      text: kubeconfig({ clusters: [dev], contexts: [devCtx], current: 'dev' }),
      message: /context "dev": user "alice" not found/,
    },
    {
      name: 'cluster without a server',
      text: kubeconfig({
        clusters: [{ name: 'dev' }],
        contexts: [{ name: 'dev', cluster: 'dev' }],
        current: 'dev',
      }),
      message: /cluster "dev" in kubeconfig has no server/,
    },
    {
      name: 'server that is not http(s)',
      text: kubeconfig({
        clusters: [{ name: 'dev', server: 'unix:///run/k.sock' }],
        contexts: [{ name: 'dev', cluster: 'dev' }],
        current: 'dev',
      }),
      message: /server must be http\(s\)/,
    },
    {
      name: 'client certificate without a key',
      text: kubeconfig({
        clusters: [dev],
        users: [{ name: 'alice', 'client-certificate-data': 'Qw==' }],
        contexts: [devCtx],
        current: 'dev',
      }),
      message: /client certificate needs a client key/,
    },
  ];
  for (const c of errors)
    it(`error: ${c.name}`, () => {
      assert.throws(
        () => resolveAccess(parseKubeconfig(c.text, join(dir, 'kc.yaml')), c.context),
        (err: unknown) =>
          err instanceof UserError && c.message.test(err.message) && (!c.hint || c.hint.test(err.hint ?? '')),
      );
    });

  it('an empty file is an empty config, not a crash', () => {
    const cfg = parseKubeconfig('', join(dir, 'kc.yaml'));
    assert.equal(cfg.contexts.size, 0);
    assert.throws(() => resolveAccess(cfg), /no current-context/);
  });
});

describe('mergeKubeconfigs: the kubectl way', () => {
  const first = parseKubeconfig(
    kubeconfig({
      clusters: [{ name: 'dev', server: 'https://first' }],
      users: [{ name: 'alice', token: 'first' }],
      contexts: [{ name: 'dev', cluster: 'dev', user: 'alice' }],
      current: 'dev',
    }),
    join(dir, 'a.yaml'),
  );
  const second = parseKubeconfig(
    kubeconfig({
      clusters: [
        { name: 'dev', server: 'https://second' },
        { name: 'prod', server: 'https://prod' },
      ],
      users: [{ name: 'alice', token: 'second' }],
      contexts: [{ name: 'prod', cluster: 'prod', user: 'alice' }],
      current: 'prod',
    }),
    join(dir, 'b.yaml'),
  );
  const noCurrent = parseKubeconfig(kubeconfig({ clusters: [{ name: 'x', server: 'https://x' }] }), 'c.yaml');
  const cases: { name: string; configs: (typeof first)[]; context?: string; want: Partial<AccessSpec> }[] = [
    {
      name: 'first file wins for names and current-context',
      configs: [first, second],
      want: { context: 'dev', server: 'https://first', token: 'first' },
    },
    {
      name: 'a context only the second file defines, with the first file’s user',
      configs: [first, second],
      context: 'prod',
      want: { server: 'https://prod', token: 'first' },
    },
    {
      name: 'a file without current-context does not reset it',
      configs: [noCurrent, second],
      want: { context: 'prod' },
    },
  ];
  for (const c of cases)
    it(c.name, () => {
      const got = resolveAccess(mergeKubeconfigs(c.configs), c.context);
      for (const [k, v] of Object.entries(c.want)) assert.deepEqual(got[k as keyof AccessSpec], v, k);
    });
});

describe('findAccess: where the connection comes from', () => {
  const one = write(
    'find/one.yaml',
    kubeconfig({
      clusters: [{ name: 'one', server: 'https://one' }],
      contexts: [{ name: 'one', cluster: 'one' }],
      current: 'one',
    }),
  );
  const two = write(
    'find/two.yaml',
    kubeconfig({
      clusters: [{ name: 'two', server: 'https://two' }],
      contexts: [{ name: 'two', cluster: 'two' }],
      current: 'two',
    }),
  );
  const home = join(dir, 'home');
  write(
    'home/.kube/config',
    kubeconfig({ clusters: [dev], contexts: [{ name: 'dev', cluster: 'dev' }], current: 'dev' }),
  );
  const sa = join(dir, 'sa');
  write('sa/token', 'sa-token\n');
  write('sa/ca.crt', 'CA');
  write('sa/namespace', 'kanary-system');
  const nowhere = join(dir, 'nowhere');
  const missing = join(dir, 'missing.yaml');

  const cases: {
    name: string;
    kubeconfig?: string;
    env: NodeJS.ProcessEnv;
    home?: string;
    sa?: string;
    want: Partial<AccessSpec> & { files?: string[] };
  }[] = [
    {
      name: '--kubeconfig',
      kubeconfig: two,
      env: { KUBECONFIG: one },
      want: { server: 'https://two', files: [two] },
    },
    {
      name: 'KUBECONFIG with several files: merged, first current-context wins, missing files skipped',
      env: { KUBECONFIG: [missing, one, two].join(delimiter) },
      want: { server: 'https://one', files: [one, two] },
    },
    {
      name: '~/.kube/config when KUBECONFIG is unset',
      env: {},
      home,
      sa,
      want: { server: 'https://10.0.0.1:6443', files: [join(home, '.kube/config')] },
    },
    {
      name: 'in-cluster when there is no kubeconfig',
      env: { KUBERNETES_SERVICE_HOST: '10.96.0.1', KUBERNETES_SERVICE_PORT: '443' },
      home: nowhere,
      sa,
      want: {
        context: 'in-cluster',
        server: 'https://10.96.0.1:443',
        caFile: join(sa, 'ca.crt'),
        tokenFile: join(sa, 'token'),
        namespace: 'kanary-system',
        files: [],
      },
    },
    {
      name: 'in-cluster from $KANARY_SERVICE_ACCOUNT_DIR (a token and CA mounted elsewhere)',
      env: {
        KUBERNETES_SERVICE_HOST: '10.96.0.1',
        KUBERNETES_SERVICE_PORT: '443',
        KANARY_SERVICE_ACCOUNT_DIR: sa,
      },
      home: nowhere,
      want: {
        context: 'in-cluster',
        caFile: join(sa, 'ca.crt'),
        tokenFile: join(sa, 'token'),
        namespace: 'kanary-system',
      },
    },
    {
      name: 'HTTPS_PROXY applies to an https server not in NO_PROXY',
      kubeconfig: two,
      env: { HTTPS_PROXY: 'proxy.corp:3128', NO_PROXY: 'one,.svc' },
      want: { server: 'https://two', proxy: 'http://proxy.corp:3128/' },
    },
    {
      name: 'NO_PROXY naming the server: no proxy',
      kubeconfig: two,
      env: { https_proxy: 'http://proxy.corp:3128', no_proxy: 'two' },
      want: { proxy: undefined },
    },
    {
      name: 'in-cluster honours HTTPS_PROXY and NO_PROXY CIDRs too',
      env: {
        KUBERNETES_SERVICE_HOST: '10.96.0.1',
        KUBERNETES_SERVICE_PORT: '443',
        HTTPS_PROXY: 'http://proxy.corp:3128',
        NO_PROXY: '10.96.0.0/12',
      },
      home: nowhere,
      sa,
      want: { context: 'in-cluster', proxy: undefined },
    },
    {
      name: 'in-cluster with an IPv6 service address',
      env: { KUBERNETES_SERVICE_HOST: 'fd00::1', KUBERNETES_SERVICE_PORT: '6443' },
      home: nowhere,
      sa,
      want: { server: 'https://[fd00::1]:6443' },
    },
  ];
  for (const c of cases)
    it(c.name, () => {
      const got = findAccess({ kubeconfig: c.kubeconfig, env: c.env, home: c.home, serviceAccountDir: c.sa });
      for (const [k, v] of Object.entries(c.want)) assert.deepEqual(got[k as keyof typeof got], v, k);
    });

  const errors: {
    name: string;
    kubeconfig?: string;
    env: NodeJS.ProcessEnv;
    sa?: string;
    message: RegExp;
  }[] = [
    {
      name: '--kubeconfig that does not exist',
      kubeconfig: missing,
      env: {},
      message: /cannot load kubeconfig .*missing\.yaml: ENOENT/,
    },
    {
      name: 'KUBECONFIG naming only missing files',
      env: { KUBECONFIG: missing },
      message: /no file of KUBECONFIG exists/,
    },
    {
      name: 'nothing configured at all',
      env: {},
      sa: nowhere,
      message: /^no Kubernetes cluster configured$/,
    },
    {
      name: 'a service account but no service environment',
      env: {},
      sa,
      message: /in-cluster configuration needs KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT/,
    },
  ];
  for (const c of errors)
    it(`error: ${c.name}`, () => {
      assert.throws(
        () =>
          findAccess({
            kubeconfig: c.kubeconfig,
            env: c.env,
            home: nowhere,
            serviceAccountDir: c.sa ?? nowhere,
          }),
        (err: unknown) => err instanceof UserError && c.message.test(err.message),
      );
    });
});

describe('loadKubeConfig (client-node, the data plane and the CLI) in-cluster', () => {
  const sa = join(dir, 'sa2');
  write('sa2/token', 'sa-token\n');
  write('sa2/ca.crt', 'CA');
  write('sa2/namespace', 'kanary-system');
  const nowhere = join(dir, 'nowhere');
  const two = write(
    'load/two.yaml',
    kubeconfig({
      clusters: [{ name: 'two', server: 'https://two' }],
      contexts: [{ name: 'two', cluster: 'two' }],
      current: 'two',
    }),
  );
  const env = { KUBERNETES_SERVICE_HOST: '10.96.0.1', KUBERNETES_SERVICE_PORT: '443', HOME: nowhere };
  it('reads the service account from $KANARY_SERVICE_ACCOUNT_DIR as findAccess does', () => {
    const kc = loadKubeConfig({ env: { ...env, KANARY_SERVICE_ACCOUNT_DIR: sa } });
    assert.equal(kc.getCurrentCluster()?.server, 'https://10.96.0.1:443');
    assert.equal(kc.getCurrentCluster()?.caFile, join(sa, 'ca.crt'));
    assert.deepEqual(kc.getCurrentUser()?.authProvider, {
      name: 'tokenFile',
      config: { tokenFile: join(sa, 'token') },
    });
    assert.equal(kc.getContextObject(kc.getCurrentContext())?.namespace, 'kanary-system');
  });
  it('a --context with the in-cluster config is an error, as in findAccess', () => {
    assert.throws(
      () => loadKubeConfig({ context: 'x', env: { ...env, KANARY_SERVICE_ACCOUNT_DIR: sa } }),
      /context "x" not found: running with the in-cluster config/,
    );
  });
  it('an explicit --kubeconfig wins over the variable', () => {
    const kc = loadKubeConfig({ kubeconfig: two, env: { ...env, KANARY_SERVICE_ACCOUNT_DIR: sa } });
    assert.equal(kc.getCurrentCluster()?.server, 'https://two');
  });
});

describe('ClusterAccess', () => {
  const base: AccessSpec = { context: 'dev', server: 'https://h' };

  it('reads TLS material from files and inline data', () => {
    const ca = write('tls/ca.crt', 'CA-PEM');
    const a = new ClusterAccess({
      ...base,
      caFile: ca,
      certData: Buffer.from('CERT').toString('base64'),
      keyData: Buffer.from('KEY').toString('base64'),
      tlsServerName: 'api.local',
    });
    assert.deepEqual(
      {
        ca: a.tls.ca?.toString(),
        cert: a.tls.cert?.toString(),
        key: a.tls.key?.toString(),
        sn: a.tls.servername,
      },
      { ca: 'CA-PEM', cert: 'CERT', key: 'KEY', sn: 'api.local' },
    );
    assert.equal(a.tls.rejectUnauthorized, undefined);
  });

  it('insecure-skip-tls-verify turns verification off and ignores the CA', () => {
    const a = new ClusterAccess({ ...base, caData: 'Q0E=', insecureSkipTlsVerify: true });
    assert.deepEqual(a.tls, { rejectUnauthorized: false });
  });

  it('an unreadable CA file is a clear error at start', () => {
    assert.throws(
      () => new ClusterAccess({ ...base, caFile: join(dir, 'no-ca.crt') }),
      /cannot read certificate-authority .*no-ca\.crt: ENOENT/,
    );
  });

  const headerCases: { name: string; spec: Partial<AccessSpec>; want: Record<string, string | string[]> }[] =
    [
      { name: 'token', spec: { token: 'abc' }, want: { authorization: 'Bearer abc' } },
      {
        name: 'basic auth',
        spec: { username: 'al', password: 'pw' },
        want: { authorization: `Basic ${Buffer.from('al:pw').toString('base64')}` },
      },
      {
        name: 'impersonation',
        spec: {
          token: 't',
          impersonate: { user: 'bob', uid: '7', groups: ['a', 'b'], extra: { 'team/x': ['y'] } },
        },
        want: {
          authorization: 'Bearer t',
          'impersonate-user': 'bob',
          'impersonate-uid': '7',
          'impersonate-group': ['a', 'b'],
          'impersonate-extra-team%2Fx': ['y'],
        },
      },
      { name: 'anonymous', spec: {}, want: {} },
    ];
  for (const c of headerCases)
    it(`headers: ${c.name}`, () =>
      assert.deepEqual(new ClusterAccess({ ...base, ...c.spec }).headers(), c.want));

  it('re-reads a token file once a minute, keeps the last token when the file is briefly gone', () => {
    const file = write('tok/token', 'one\n');
    let now = 1_000_000;
    const a = new ClusterAccess({ ...base, token: 'ignored', tokenFile: file }, () => now);
    assert.equal(a.headers().authorization, 'Bearer one');
    writeFileSync(file, 'two');
    now += TOKEN_FILE_REFRESH_MS - 1;
    assert.equal(a.headers().authorization, 'Bearer one', 'not re-read within the minute');
    now += 1;
    assert.equal(a.headers().authorization, 'Bearer two', 'rotated token picked up');
    unlinkSync(file);
    now += TOKEN_FILE_REFRESH_MS;
    assert.equal(a.headers().authorization, 'Bearer two', 'last good token kept');
    writeFileSync(file, 'three');
    now += TOKEN_FILE_REFRESH_MS;
    assert.equal(a.headers().authorization, 'Bearer three');
  });

  it('an empty or missing token file is a clear error at start', () => {
    assert.throws(
      () => new ClusterAccess({ ...base, tokenFile: write('tok/empty', '\n') }),
      /token file .*empty is empty/,
    );
    assert.throws(
      () => new ClusterAccess({ ...base, tokenFile: join(dir, 'tok/none') }),
      /cannot read token file .*none: ENOENT/,
    );
  });
});
