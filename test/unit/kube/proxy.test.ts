/** Which API server connections go through a proxy (src/kube/proxy.ts): Go's httpproxy rules, table-driven. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { UserError } from '../../../src/cli/errors.ts';
import { parseProxyUrl, proxyFor, useProxy } from '../../../src/kube/proxy.ts';

describe('useProxy: NO_PROXY matching', () => {
  // [host, port, NO_PROXY, proxied?]
  const cases: [string, string, string, boolean][] = [
    ['api.example.com', '443', '', true],
    ['api.example.com', '443', '*', false],
    ['api.example.com', '443', ' * ', false],
    // domains: "example.com" matches itself and subdomains; ".example.com" and "*.example.com" only subdomains
    ['example.com', '443', 'example.com', false],
    ['api.example.com', '443', 'example.com', false],
    ['badexample.com', '443', 'example.com', true],
    ['example.com', '443', '.example.com', true],
    ['api.example.com', '443', '.example.com', false],
    ['example.com', '443', '*.example.com', true],
    ['a.b.example.com', '443', '*.example.com', false],
    ['API.Example.COM', '443', 'api.example.com', false], // case-insensitive
    ['api.example.com', '443', 'API.EXAMPLE.COM', false],
    ['api.example.com.', '443', 'example.com', false], // a trailing dot is the same name
    ['kubernetes.default.svc', '443', 'other, .svc ,more', false], // list, spaces
    // ports
    ['api.example.com', '6443', 'example.com:6443', false],
    ['api.example.com', '443', 'example.com:6443', true],
    ['10.0.0.1', '6443', '10.0.0.1:6443', false],
    ['10.0.0.1', '443', '10.0.0.1:6443', true],
    ['fd00::1', '6443', '[fd00::1]:6443', false],
    ['fd00::1', '443', '[fd00::1]:6443', true],
    // IPs and CIDRs (a CIDR ignores ports)
    ['10.0.0.1', '443', '10.0.0.1', false],
    ['10.0.0.2', '443', '10.0.0.1', true],
    ['10.96.0.1', '443', '10.96.0.0/12', false],
    ['10.112.0.1', '443', '10.96.0.0/12', true],
    ['fd00::1', '443', 'fd00::/8', false],
    ['fe80::1', '443', 'fd00::/8', true],
    ['[fd00::1]', '443', 'fd00::1', false],
    ['10.0.0.1', '443', '10.0.0.0/8:443', true], // not a CIDR, not a host: ignored
    // an IP is not a domain suffix of another IP
    ['110.0.0.1', '443', '10.0.0.1', true],
    // never proxied: localhost and loopback
    ['localhost', '443', '', false],
    ['127.0.0.1', '6443', '', false],
    ['127.1.2.3', '6443', '', false],
    ['::1', '6443', '', false],
    ['[::1]', '6443', '', false],
    // malformed entries are skipped
    ['api.example.com', '443', ':443,,', true],
  ];
  for (const [host, port, noProxy, want] of cases) {
    it(`${host}:${port} with NO_PROXY=${JSON.stringify(noProxy)} → ${want ? 'proxy' : 'direct'}`, () =>
      assert.equal(useProxy(host, port, noProxy), want));
  }
});

describe('proxyFor', () => {
  const cases: [string, string, string | undefined, NodeJS.ProcessEnv, string | undefined][] = [
    [
      'HTTPS_PROXY for an https server',
      'https://api.example.com',
      undefined,
      { HTTPS_PROXY: 'http://p:3128' },
      'http://p:3128/',
    ],
    [
      'https_proxy, lower case',
      'https://api.example.com',
      undefined,
      { https_proxy: 'http://p:3128' },
      'http://p:3128/',
    ],
    [
      'upper case wins, as Go',
      'https://api.example.com',
      undefined,
      { HTTPS_PROXY: 'http://up:1', https_proxy: 'http://low:2' },
      'http://up:1/',
    ],
    [
      'HTTP_PROXY is not for an https server',
      'https://api.example.com',
      undefined,
      { HTTP_PROXY: 'http://p:3128' },
      undefined,
    ],
    [
      'HTTP_PROXY for an http server',
      'http://api.example.com',
      undefined,
      { HTTP_PROXY: 'http://p:3128' },
      'http://p:3128/',
    ],
    [
      'HTTP_PROXY is ignored under CGI',
      'http://api.example.com',
      undefined,
      { HTTP_PROXY: 'http://p:3128', REQUEST_METHOD: 'GET' },
      undefined,
    ],
    [
      'no scheme means http',
      'https://api.example.com',
      undefined,
      { HTTPS_PROXY: 'p.corp:3128' },
      'http://p.corp:3128/',
    ],
    [
      'the default port counts for NO_PROXY',
      'https://api.example.com',
      undefined,
      { HTTPS_PROXY: 'http://p:3128', NO_PROXY: 'api.example.com:443' },
      undefined,
    ],
    [
      'NO_PROXY matches',
      'https://10.0.0.5:6443',
      undefined,
      { HTTPS_PROXY: 'http://p:3128', no_proxy: '10.0.0.0/24' },
      undefined,
    ],
    [
      'proxy-url wins and ignores NO_PROXY',
      'https://api.example.com',
      'http://kc:8080',
      { HTTPS_PROXY: 'http://p:3128', NO_PROXY: '*' },
      'http://kc:8080/',
    ],
    [
      'credentials are kept',
      'https://api.example.com',
      'http://u:p%40ss@kc:8080',
      {},
      'http://u:p%40ss@kc:8080/',
    ],
    [
      'an https proxy',
      'https://api.example.com',
      undefined,
      { HTTPS_PROXY: 'https://p:3129' },
      'https://p:3129/',
    ],
    ['nothing set', 'https://api.example.com', undefined, {}, undefined],
  ];
  for (const [name, server, proxyUrl, env, want] of cases) {
    it(name, () => assert.equal(proxyFor(server, proxyUrl, env)?.href, want));
  }

  it('a socks5 proxy is refused with a clear error', () => {
    assert.throws(
      () => proxyFor('https://api.example.com', undefined, { HTTPS_PROXY: 'socks5://p:1080' }),
      (err: unknown) =>
        err instanceof UserError &&
        /HTTPS_PROXY: socks5 proxies are not supported \(socks5:\/\/p:1080\)/.test(err.message),
    );
    assert.throws(
      () => parseProxyUrl('http://[bad', 'HTTPS_PROXY'),
      /HTTPS_PROXY: not a proxy URL: http:\/\/\[bad/,
    );
  });
});
