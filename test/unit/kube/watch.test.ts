import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseWatchLine, WatchLineDecoder, WatchProtocolError } from '../../../src/kube/watch.ts';

const line = (type: string, name: string, rv = '1') =>
  `${JSON.stringify({ type, object: { metadata: { name, resourceVersion: rv } } })}\n`;
const names = (evs: { type: string; object: Record<string, unknown> }[]) =>
  evs.map((e) => `${e.type} ${(e.object.metadata as { name?: string } | undefined)?.name ?? ''}`.trim());

describe('WatchLineDecoder', () => {
  const a = line('ADDED', 'a');
  const b = line('MODIFIED', 'b');
  const utf8 = Buffer.from(line('ADDED', 'zürich-✓'));
  const split = utf8.indexOf(Buffer.from('✓')) + 1; // inside the 3-byte character
  const cases: { name: string; chunks: (string | Buffer)[]; want: string[]; wantAtEnd?: string[] }[] = [
    { name: 'one event per chunk', chunks: [a, b], want: ['ADDED a', 'MODIFIED b'] },
    { name: 'two events in one chunk', chunks: [a + b], want: ['ADDED a', 'MODIFIED b'] },
    {
      name: 'event split across chunks',
      chunks: [a.slice(0, 10), a.slice(10, 30), a.slice(30)],
      want: ['ADDED a'],
    },
    {
      name: 'chunk ends one event and starts the next',
      chunks: [a.slice(0, 5), a.slice(5) + b.slice(0, 7), b.slice(7)],
      want: ['ADDED a', 'MODIFIED b'],
    },
    {
      name: 'UTF-8 character split across chunks',
      chunks: [utf8.subarray(0, split), utf8.subarray(split)],
      want: ['ADDED zürich-✓'],
    },
    { name: 'blank lines and CRLF', chunks: ['\n', a.replace('\n', '\r\n'), '\n\n'], want: ['ADDED a'] },
    {
      name: 'bookmark',
      chunks: ['{"type":"BOOKMARK","object":{"kind":"Pod","metadata":{"resourceVersion":"42"}}}\n'],
      want: ['BOOKMARK'],
    },
    {
      name: 'error event carries a Status',
      chunks: ['{"type":"ERROR","object":{"kind":"Status","code":410,"reason":"Expired"}}\n'],
      want: ['ERROR'],
    },
    {
      name: 'last line without newline comes at the end',
      chunks: [a, b.trimEnd()],
      want: ['ADDED a'],
      wantAtEnd: ['MODIFIED b'],
    },
  ];
  for (const c of cases)
    it(c.name, () => {
      const d = new WatchLineDecoder();
      const got = c.chunks.flatMap((ch) => d.push(typeof ch === 'string' ? Buffer.from(ch) : ch));
      assert.deepEqual(names(got), c.want);
      assert.deepEqual(names(d.end()), c.wantAtEnd ?? []);
    });

  const bad: { name: string; chunks: string[]; atEnd?: boolean; message: RegExp }[] = [
    { name: 'not JSON', chunks: ['<html>proxy error</html>\n'], message: /not JSON: <html>/ },
    {
      name: 'unknown event type',
      chunks: ['{"type":"RENAMED","object":{}}\n'],
      message: /not a watch event/,
    },
    { name: 'no type', chunks: ['{"object":{}}\n'], message: /not a watch event/ },
    { name: 'JSON that is not an object', chunks: ['[1,2]\n'], message: /not a watch event/ },
    {
      name: 'event without object',
      chunks: ['{"type":"ADDED"}\n'],
      message: /ADDED event without an object/,
    },
    { name: 'object is an array', chunks: ['{"type":"ADDED","object":[]}\n'], message: /without an object/ },
    { name: 'stream cut mid-line', chunks: [a.slice(0, 20)], atEnd: true, message: /not JSON/ },
  ];
  for (const c of bad)
    it(`rejects: ${c.name}`, () => {
      const d = new WatchLineDecoder();
      assert.throws(
        () => {
          for (const ch of c.chunks) d.push(Buffer.from(ch));
          if (c.atEnd) d.end();
        },
        (err: unknown) => err instanceof WatchProtocolError && c.message.test(err.message),
      );
    });

  it('rejects a line longer than the limit instead of buffering without bound', () => {
    const d = new WatchLineDecoder(100);
    d.push(Buffer.from('x'.repeat(60)));
    assert.throws(() => d.push(Buffer.from('y'.repeat(60))), /line longer than 100 characters/);
  });

  it('a long line within the limit survives many small chunks', () => {
    const big = line('ADDED', 'n'.repeat(5000));
    const d = new WatchLineDecoder();
    const got = [];
    for (let i = 0; i < big.length; i += 7) got.push(...d.push(Buffer.from(big.slice(i, i + 7))));
    assert.deepEqual(names(got), [`ADDED ${'n'.repeat(5000)}`]);
  });
});

describe('parseWatchLine', () => {
  it('returns type and object as sent', () => {
    assert.deepEqual(parseWatchLine('{"type":"DELETED","object":{"metadata":{"name":"x"}}}'), {
      type: 'DELETED',
      object: { metadata: { name: 'x' } },
    });
  });
});
