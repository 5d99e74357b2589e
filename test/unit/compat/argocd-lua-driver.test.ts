/**
 * The Lua driver sets a script up as Argo CD v3.6 does (util/lua/lua.go,
 * oslib_safe.go; layeh.com/gopher-json for results): checked with small
 * scripts of our own, one `lua5.1` process for all of them.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { type LuaOutcome, runLuaScripts, type ScriptCase } from '../../support/argocd-lua.ts';

const dir = mkdtempSync(join(tmpdir(), 'kanary-argocd-lua-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const SCRIPTS: Record<string, string> = {
  clock: `local os2 = require("os")
return { t = os.time(), d = os.date("!%Y-%m-%dT%XZ"), same = os2 == os,
         exit = os.exit == nil, getenv = os.getenv == nil, execute = os.execute == nil }`,
  libs: `return { string = string ~= nil, math = math ~= nil, io = io == nil, debug = debug == nil,
         table = table ~= nil, params = type(actionParams) }`,
  convert: 'return { hasA = obj.a ~= nil, len = table.getn(obj.l), l = obj.l, e = obj.e, n = obj.n }',
  sparse: 'return { [1] = 1, [3] = 3 }',
  mixed: 'return { 1, x = 2 }',
  twice: 'local t = { 1 }\nreturn { a = t, b = t }',
  none: 'local x = 1',
  last: 'return { first = true }, { last = true }',
  endless: 'while true do end',
  globals: 'counter = (counter or 0) + 1\nreturn { counter = counter }',
  print: 'print("to stderr", 1)\nreturn { printed = true }',
  raise: 'error("no such field")',
};
const paths = Object.fromEntries(
  Object.entries(SCRIPTS).map(([id, text]) => {
    const path = join(dir, `${id}.lua`);
    writeFileSync(path, text);
    return [id, path];
  }),
);

const now = new Date('2026-01-15T12:34:56.789Z');
const cases: (ScriptCase & { name: string })[] = [
  { name: 'clock', script: 'clock', kind: 'action', obj: {}, now },
  { name: 'clock (health)', script: 'clock', kind: 'health', obj: {}, now },
  { name: 'libs (action)', script: 'libs', kind: 'action', obj: {} },
  { name: 'libs (discovery)', script: 'libs', kind: 'discovery', obj: {} },
  { name: 'libs (health)', script: 'libs', kind: 'health', obj: {} },
  { name: 'convert', script: 'convert', kind: 'action', obj: { a: null, l: [1, null, 'x'], e: {}, n: 1.5 } },
  { name: 'sparse', script: 'sparse', kind: 'action', obj: {} },
  { name: 'mixed', script: 'mixed', kind: 'action', obj: {} },
  { name: 'twice', script: 'twice', kind: 'action', obj: {} },
  { name: 'none', script: 'none', kind: 'health', obj: {} },
  { name: 'last', script: 'last', kind: 'action', obj: {} },
  { name: 'endless', script: 'endless', kind: 'action', obj: {} },
  { name: 'globals 1', script: 'globals', kind: 'action', obj: {} },
  { name: 'globals 2', script: 'globals', kind: 'action', obj: {} },
  { name: 'print', script: 'print', kind: 'action', obj: {} },
  { name: 'raise', script: 'raise', kind: 'action', obj: {} },
  { name: 'unknown script', script: 'nope', kind: 'action', obj: {} },
];

describe('the Lua driver runs scripts as Argo CD does', () => {
  const started = performance.now();
  const outcomes = runLuaScripts(paths, cases);
  const elapsed = performance.now() - started;
  const outcome = (name: string): LuaOutcome => {
    const i = cases.findIndex((c) => c.name === name);
    const o = outcomes[i];
    assert.ok(o, `a result for ${name}`);
    return o;
  };
  const value = (name: string) => {
    const o = outcome(name);
    assert.ok(o.ok, `${name}: ${JSON.stringify(o)}`);
    return o.value;
  };
  const failure = (name: string) => {
    const o = outcome(name);
    assert.equal(o.ok, false, `${name} fails`);
    return o.ok ? '' : o.error;
  };

  it('a safe os: os.time and os.date read the case’s now, require("os") is the same table, nothing else', () => {
    assert.deepEqual(value('clock'), {
      t: 1768480496,
      d: '2026-01-15T12:34:56Z',
      same: true,
      exit: true,
      getenv: true,
      execute: true,
    });
  });
  it('the health script gets the full os library, with the same os.time and os.date', () => {
    assert.deepEqual(value('clock (health)'), {
      t: 1768480496,
      d: '2026-01-15T12:34:56Z',
      same: true,
      exit: false,
      getenv: false,
      execute: false,
    });
  });
  it('actions and discovery get the base, table and os libraries only; the health script the others too but debug', () => {
    const restricted = { string: false, math: false, io: true, debug: true, table: true, params: 'table' };
    assert.deepEqual(value('libs (action)'), restricted);
    assert.deepEqual(value('libs (discovery)'), restricted);
    assert.deepEqual(value('libs (health)'), { ...restricted, string: true, math: true, io: false });
  });
  it('obj from JSON: null is nil (also in lists), an empty object is an empty table, numbers stay numbers', () => {
    assert.deepEqual(value('convert'), { hasA: false, len: 2, l: [1, 'x'], e: [], n: 1.5 });
  });
  it('results to JSON as gopher-json: no sparse or mixed tables, no table twice', () => {
    assert.match(failure('sparse'), /sparse array/);
    assert.match(failure('mixed'), /mixed or invalid key types/);
    assert.match(failure('twice'), /recursively nested/);
  });
  it('the result is the last value returned; nothing returned is null', () => {
    assert.equal(value('none'), null);
    assert.deepEqual(value('last'), { last: true });
  });
  it('a script that never ends is stopped, and the batch goes on', () => {
    assert.match(failure('endless'), /ran too long/);
    assert.deepEqual(value('globals 1'), { counter: 1 });
  });
  it('each case starts with fresh globals', () => {
    assert.deepEqual(value('globals 2'), { counter: 1 });
  });
  it('print goes to stderr, not into the results', () => {
    assert.deepEqual(value('print'), { printed: true });
  });
  it('errors name the script', () => {
    assert.match(failure('raise'), /^raise:1: no such field$/);
    assert.match(failure('unknown script'), /unknown script nope/);
  });
  it('one process for the batch, endless loop included, in well under the timeout', () => {
    assert.ok(elapsed < 5000, `${elapsed} ms`);
  });
});
