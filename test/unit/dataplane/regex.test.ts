import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseTestError, renderRegexCheck } from '../../../src/dataplane/regex.ts';

test('the regex check configuration: one location per path, as the real configuration writes it', () => {
  const paths = ['(?i)^/v1/Foo', '/a++b', '/q"uote\\d', '/x{2}'];
  const { config, pathAt } = renderRegexCheck(paths, '/var/lib/kanary-ingress');
  const lines = config.split('\n');
  assert.equal(pathAt.size, paths.length);
  for (const [n, path] of pathAt) {
    // the same `location ~* "^<path>"` syntax as renderConfig (nginx unescapes \" and \\)
    const expected = `location ~* "^${path.replace(/[\\"]/g, (c) => `\\${c}`)}" { return 204; }`;
    assert.equal(lines[n - 1]!.trim(), expected);
  }
  assert.deepEqual([...pathAt.values()], paths);
  // nothing that opens, binds or loads anything: no modules, no logs, temp paths in the state dir
  assert.doesNotMatch(config, /load_module|access_log \//);
  assert.match(config, /^ {2}access_log off;$/m);
  assert.match(config, /^ {2}client_body_temp_path \/var\/lib\/kanary-ingress\/tmp\/client_body;$/m);
  assert.match(config, /listen unix:\/var\/lib\/kanary-ingress\/regex-check\.sock;/);
});

test('nginx -t errors: the message and the line it names', async (t) => {
  const cases: [string, ReturnType<typeof parseTestError>][] = [
    [
      '2026/12/02 16:36:39 [emerg] 27560#27560: pcre2_compile() failed: numbers out of order in {} quantifier in "^/a{2,1}" at "}" in /tmp/s/regex-check.conf:10\nnginx: configuration file /tmp/s/regex-check.conf test failed\n',
      {
        message: 'pcre2_compile() failed: numbers out of order in {} quantifier in "^/a{2,1}" at "}"',
        line: 10,
      },
    ],
    [
      'nginx: [emerg] 7#7: pcre2_compile() failed: missing closing parenthesis in "^(" at "" in /s/regex-check.conf:12',
      { message: 'pcre2_compile() failed: missing closing parenthesis in "^(" at ""', line: 12 },
    ],
    ['spawn nginx ENOENT', undefined],
    ['nginx: [alert] could not open error log file', undefined],
  ];
  for (const [stderr, want] of cases) {
    await t.test(stderr.slice(0, 60), () => assert.deepEqual(parseTestError(stderr), want));
  }
});
