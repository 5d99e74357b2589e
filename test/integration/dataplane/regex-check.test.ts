/**
 * Regex paths judged by the PCRE of the real nginx (no cluster needed): valid PCRE that
 * JavaScript rejects passes, what PCRE rejects gets nginx's message, in few nginx -t runs.
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { pino } from 'pino';
import { RegexChecker } from '../../../src/dataplane/regex.ts';

function stateDir(t: import('node:test').TestContext): string {
  const dir = mkdtempSync(join(tmpdir(), 'kanary-regex-'));
  mkdirSync(join(dir, 'tmp'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

test('PCRE judges regex paths in one nginx -t per bad path plus one', async (t) => {
  const checker = new RegexChecker({
    binary: 'nginx',
    stateDir: stateDir(t),
    log: pino({ level: 'silent' }),
  });
  const valid = ['(?i)^/v1/Foo', '/a++b', '/(?>x|y)z', '/q"uote\\d+', '/something(/|$)(.*)'];
  const many = Array.from({ length: 200 }, (_, i) => `/p${i}/(a|b)+[0-9]{2}`);
  const invalid = ['(', '/a{2,1}', '/(?<=a+)b'];
  const errors = await checker.errors([...valid, ...many.slice(0, 100), ...invalid, ...many.slice(100)]);
  assert.deepEqual([...errors.keys()].sort(), [...invalid].sort());
  assert.match(errors.get('(')!, /^pcre2?_compile\(\) failed: missing closing parenthesis in "\^\("/);
  assert.match(errors.get('/a{2,1}')!, /numbers out of order/);
  assert.match(errors.get('/(?<=a+)b')!, /lookbehind/);
  assert.equal(checker.runs, invalid.length + 1);
  // remembered: the same paths again need no nginx -t, a new one needs one
  assert.equal((await checker.errors([...valid, '(', ...many])).size, 1);
  assert.equal(checker.runs, invalid.length + 1);
  assert.equal((await checker.errors(['/new(?i)x'])).size, 0);
  assert.equal(checker.runs, invalid.length + 2);
});

test('when nginx cannot run at all, no path is judged (the full nginx -t decides) and it says why', async (t) => {
  const warnings: string[] = [];
  const log = pino({ level: 'warn' }, { write: (l: string) => warnings.push(l) });
  const checker = new RegexChecker({ binary: '/nonexistent/nginx', stateDir: stateDir(t), log });
  assert.equal((await checker.errors(['(', '/ok'])).size, 0);
  assert.equal(checker.runs, 1);
  assert.match(warnings.join(''), /cannot check regex paths with nginx -t/);
  assert.match(warnings.join(''), /ENOENT/);
});
