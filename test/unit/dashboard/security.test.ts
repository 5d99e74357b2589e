import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  bindRefusal,
  checkRequest,
  hostName,
  isLoopback,
  type SecurityConfig,
} from '../../../src/dashboard/security.ts';

const TOKEN = 'a-token-of-some-length';
const loopToken: SecurityConfig = {
  host: '127.0.0.1',
  auth: { mode: 'token', token: TOKEN },
  readOnly: false,
};
const loopNone: SecurityConfig = { host: '127.0.0.1', auth: { mode: 'none' }, readOnly: false };
const wideToken: SecurityConfig = { host: '0.0.0.0', auth: { mode: 'token', token: TOKEN }, readOnly: false };
const readOnly: SecurityConfig = { host: '0.0.0.0', auth: { mode: 'none' }, readOnly: true };
const bearer = `Bearer ${TOKEN}`;

describe('loopback addresses', () => {
  for (const [host, loop] of [
    ['127.0.0.1', true],
    ['127.1.2.3', true],
    ['localhost', true],
    ['::1', true],
    ['[::1]', true],
    ['0.0.0.0', false],
    ['::', false],
    ['192.168.1.5', false],
    ['127.0.0.1.evil.example', false],
  ] as const) {
    it(`${host}: ${loop}`, () => assert.equal(isLoopback(host), loop));
  }
  it('reads the host name of a Host header', () => {
    assert.equal(hostName('127.0.0.1:3100'), '127.0.0.1');
    assert.equal(hostName('[::1]:3100'), '::1');
    assert.equal(hostName('localhost'), 'localhost');
  });
});

describe('bind refusal', () => {
  it('loopback may run without a token', () => assert.equal(bindRefusal(loopNone), undefined));
  it('another address without --auth token or --read-only is refused, saying what to do', () => {
    const msg = bindRefusal({ host: '0.0.0.0', auth: { mode: 'none' }, readOnly: false });
    assert.match(msg ?? '', /^refusing to serve the dashboard on 0\.0\.0\.0 without authentication/);
    assert.match(msg ?? '', /--auth token/);
    assert.match(msg ?? '', /--read-only/);
  });
  it('another address with a token, or read-only, starts', () => {
    assert.equal(bindRefusal(wideToken), undefined);
    assert.equal(bindRefusal(readOnly), undefined);
  });
});

type Case = [string, SecurityConfig, string, Record<string, string>, boolean, number | undefined];
const host = { host: '127.0.0.1:3100' };
const same = { ...host, origin: 'http://127.0.0.1:3100', 'sec-fetch-site': 'same-origin' };

describe('request checks', () => {
  const cases: Case[] = [
    ['page without token', loopToken, 'GET', host, false, undefined],
    ['read without token', loopToken, 'GET', host, true, 401],
    ['read with the wrong token', loopToken, 'GET', { ...host, authorization: 'Bearer nope' }, true, 401],
    ['read with the token', loopToken, 'GET', { ...host, authorization: bearer }, true, undefined],
    ['token as a cookie is not a token', loopToken, 'PUT', { ...same, cookie: `token=${TOKEN}` }, true, 401],
    ['mutation without token', loopToken, 'PUT', same, true, 401],
    [
      'mutation with token, same origin',
      loopToken,
      'PUT',
      { ...same, authorization: bearer },
      true,
      undefined,
    ],
    [
      'mutation with token, no Origin (curl)',
      loopToken,
      'PUT',
      { ...host, authorization: bearer },
      true,
      undefined,
    ],
    [
      'mutation from another origin',
      loopToken,
      'PUT',
      { ...host, authorization: bearer, origin: 'http://evil.example' },
      true,
      403,
    ],
    [
      'mutation with Origin null',
      loopToken,
      'PUT',
      { ...host, authorization: bearer, origin: 'null' },
      true,
      403,
    ],
    [
      'mutation marked cross-site by the browser',
      loopToken,
      'PUT',
      { ...host, authorization: bearer, 'sec-fetch-site': 'cross-site' },
      true,
      403,
    ],
    ['POST is not an action verb', loopToken, 'POST', { ...same, authorization: bearer }, true, 405],
    ['no token needed with --auth none', loopNone, 'PUT', same, true, undefined],
    [
      '--auth none still checks the origin',
      loopNone,
      'PUT',
      { ...host, origin: 'http://evil.example' },
      true,
      403,
    ],
    ['DNS rebinding: a foreign Host on loopback', loopNone, 'GET', { host: 'evil.example:3100' }, true, 403],
    ['DNS rebinding also for the page', loopNone, 'GET', { host: 'evil.example:3100' }, false, 403],
    [
      'any Host when bound widely (the token guards)',
      wideToken,
      'GET',
      { host: 'dash.example:3100', authorization: bearer },
      true,
      undefined,
    ],
    ['read-only refuses a forged promote', readOnly, 'PUT', { host: 'dash.example' }, true, 403],
    ['read-only still reads', readOnly, 'GET', { host: 'dash.example' }, true, undefined],
  ];
  for (const [name, cfg, method, headers, api, status] of cases) {
    it(name, () => assert.equal(checkRequest(cfg, method, headers, api)?.status, status));
  }
  it('read-only answers 403 before asking for the token, with a message that says why', () => {
    const r = checkRequest({ ...readOnly, auth: { mode: 'token', token: TOKEN } }, 'PUT', host, true);
    assert.deepEqual(r, {
      status: 403,
      message: 'the dashboard runs read-only (--read-only): actions are refused',
    });
  });
});
