/**
 * The Informer's list + watch against a scripted API server on 127.0.0.1:
 * paging, event semantics, 410 Gone, errors, silent connections, stop.
 */
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { afterEach, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { ClusterAccess } from '../../../src/kube/access.ts';
import { KubeClient, RESOURCES, WatchIdleTimeoutError } from '../../../src/kube/client.ts';
import { Informer, type KubeObject } from '../../../src/kube/informer.ts';
import { WatchProtocolError } from '../../../src/kube/watch.ts';

type Handler = (url: URL, res: ServerResponse, req: IncomingMessage) => void;

/** An API server whose list and watch answers the test scripts, one handler per request. */
class FakeApi {
  readonly lists: URL[] = [];
  readonly watches: URL[] = [];
  listScript: Handler[] = [];
  watchScript: Handler[] = [];
  private server: Server;
  private sockets = new Set<Socket>();
  port = 0;

  constructor() {
    this.server = createServer((req, res) => {
      const url = new URL(req.url ?? '/', 'http://x');
      const watching = url.searchParams.get('watch') === 'true';
      (watching ? this.watches : this.lists).push(url);
      const next = watching ? this.watchScript.shift() : this.listScript.shift();
      if (next) next(url, res, req);
      // unscripted watches hang open, as an idle watch does; unscripted lists fail
      else if (!watching) json(res, 500, { kind: 'Status', code: 500, message: 'unscripted list' });
    });
    this.server.on('connection', (s) => {
      this.sockets.add(s);
      s.on('close', () => this.sockets.delete(s));
    });
  }
  async listen(): Promise<void> {
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', r));
    const a = this.server.address();
    this.port = typeof a === 'object' && a ? a.port : 0;
  }
  client(): KubeClient {
    return new KubeClient(new ClusterAccess({ context: 'fake', server: `http://127.0.0.1:${this.port}` }));
  }
  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise((r) => this.server.close(r));
  }
}

function json(res: ServerResponse, code: number, body: unknown): void {
  res.writeHead(code, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
}
const obj = (name: string, rv: string, extra: Record<string, unknown> = {}): KubeObject =>
  ({ metadata: { name, namespace: 'ns', resourceVersion: rv, ...extra } }) as KubeObject;
const list =
  (rv: string, items: KubeObject[], cont?: string): Handler =>
  (_u, res) =>
    json(res, 200, { kind: 'RolloutList', metadata: { resourceVersion: rv, continue: cont }, items });
const ev = (type: string, object: unknown) => `${JSON.stringify({ type, object })}\n`;
/** a watch that sends these lines and then stays open, or ends when `end` is set */
const stream =
  (lines: string[], opts: { end?: boolean } = {}): Handler =>
  (_u, res) => {
    res.writeHead(200, { 'content-type': 'application/json', 'transfer-encoding': 'chunked' });
    for (const l of lines) res.write(l);
    if (opts.end) res.end();
  };

async function until(what: string, cond: () => boolean, ms = 5000): Promise<void> {
  const t0 = Date.now();
  while (!cond()) {
    if (Date.now() - t0 > ms) throw new Error(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

function record(inf: Informer<KubeObject>): string[] {
  const seen: string[] = [];
  for (const e of ['add', 'update', 'delete'] as const)
    inf.on(e, (o) => seen.push(`${e} ${o.metadata.name}@${o.metadata.resourceVersion}`));
  return seen;
}

describe('Informer', () => {
  const apis: FakeApi[] = [];
  const informers: Informer<KubeObject>[] = [];
  const setup = async (opts: ConstructorParameters<typeof Informer>[2] = {}) => {
    const api = new FakeApi();
    await api.listen();
    apis.push(api);
    const logs: string[] = [];
    const inf = new Informer<KubeObject>(api.client(), RESOURCES.rollouts, {
      namespace: 'ns',
      backoffMs: 10,
      maxBackoffMs: 50,
      log: (msg, f) => logs.push(`${msg}: ${String(f?.error)}`),
      ...opts,
    });
    informers.push(inf);
    return { api, inf, logs, seen: record(inf) };
  };
  afterEach(async () => {
    for (const i of informers.splice(0)) i.stop();
    for (const a of apis.splice(0)) await a.close();
  });

  it('lists in pages, then applies watch events and resumes from the last resourceVersion', async () => {
    const { api, inf, seen } = await setup({ pageSize: 2, labelSelector: 'app=web' });
    api.listScript = [
      list('10', [obj('a', '1', { managedFields: [{ manager: 'kubectl' }] }), obj('b', '2')], 'page2'),
      list('10', [obj('c', '3')]),
    ];
    api.watchScript = [
      stream(
        [
          ev('ADDED', obj('d', '11')),
          ev('MODIFIED', obj('a', '12')),
          ev('MODIFIED', obj('b', '2')), // same resourceVersion: no update
          ev('DELETED', obj('c', '13')),
          ev('DELETED', obj('zz', '14')), // never cached: no delete
          ev('BOOKMARK', { kind: 'Rollout', metadata: { resourceVersion: '20' } }),
        ],
        { end: true }, // the server's timeoutSeconds ran out
      ),
    ];
    await inf.start();
    assert.equal(inf.hasSynced, true);
    assert.deepEqual(
      api.lists.map((u) => [
        u.searchParams.get('limit'),
        u.searchParams.get('continue'),
        u.searchParams.get('labelSelector'),
      ]),
      [
        ['2', null, 'app=web'],
        ['2', 'page2', 'app=web'],
      ],
    );
    assert.equal(api.lists[0]?.pathname, '/apis/argoproj.io/v1alpha1/namespaces/ns/rollouts');
    assert.ok(inf.get('ns', 'a'), 'a is cached');
    assert.equal(
      (inf.get('ns', 'a')?.metadata as { managedFields?: unknown } | undefined)?.managedFields,
      undefined,
      'managedFields dropped by default',
    );
    await until('second watch', () => api.watches.length === 2);
    const [w1, w2] = api.watches;
    assert.equal(w1?.searchParams.get('resourceVersion'), '10');
    assert.equal(w1?.searchParams.get('allowWatchBookmarks'), 'true');
    assert.equal(w1?.searchParams.get('labelSelector'), 'app=web');
    const timeout = Number(w1?.searchParams.get('timeoutSeconds'));
    assert.ok(timeout >= 300 && timeout < 600, `timeoutSeconds ${timeout}`);
    assert.equal(w2?.searchParams.get('resourceVersion'), '20', 'resumes from the bookmark');
    assert.deepEqual(seen, ['add a@1', 'add b@2', 'add c@3', 'add d@11', 'update a@12', 'delete c@13']);
    assert.deepEqual(
      inf
        .list('ns')
        .map((o) => o.metadata.name)
        .sort(),
      ['a', 'b', 'd'],
    );
    assert.deepEqual(inf.list().length, 3);
    assert.equal(inf.list('other').length, 0);
    assert.equal(inf.get('ns', 'a')?.metadata.resourceVersion, '12');
    assert.equal(inf.restarts, 0);
    assert.equal(api.lists.length, 2, 'a watch that ends is resumed without listing again');
  });

  it('indexes: objects filed by their index values through add, update, delete and a relist', async () => {
    const { api, inf } = await setup({
      indexers: { owner: (o) => (o.metadata.ownerReferences ?? []).map((r) => r.uid) },
    });
    const owned = (name: string, rv: string, ...uids: string[]) =>
      obj(name, rv, {
        ownerReferences: uids.map((uid) => ({ apiVersion: 'v1', kind: 'ReplicaSet', name: uid, uid })),
      });
    const names = (value: string) => inf.byIndex('owner', value).map((o) => o.metadata.name);
    assert.deepEqual(names('u1'), [], 'a declared index answers before anything is cached');
    api.listScript = [
      list('10', [owned('a', '1', 'u1'), owned('b', '2', 'u1', 'u2'), owned('c', '3')]),
      list('30', [owned('b', '2', 'u1', 'u2'), owned('e', '26', 'u1')]),
    ];
    api.watchScript = [
      stream(
        [
          ev('MODIFIED', owned('a', '11', 'u1')), // same owners: keeps its place
          ev('MODIFIED', owned('b', '12', 'u2')), // no longer owned by u1
          ev('ADDED', owned('d', '13', 'u2')),
          ev('DELETED', owned('a', '14')), // the final state names no owner: unfiled as it was filed
          ev('BOOKMARK', { kind: 'Rollout', metadata: { resourceVersion: '15' } }),
        ],
        { end: true },
      ),
      ((_u, res) => json(res, 410, { kind: 'Status', code: 410, reason: 'Gone' })) as Handler,
    ];
    await inf.start();
    assert.deepEqual(names('u1'), ['a', 'b']);
    assert.deepEqual(names('u2'), ['b']);
    assert.deepEqual(names('nobody'), []);
    await until('relist', () => api.lists.length === 2 && inf.get('ns', 'e') !== undefined);
    // the watch deleted a, moved b to u2 only and added d; the relist brings b back to u1 and u2
    // (its listed state), removes d and adds e
    assert.deepEqual(names('u1'), ['b', 'e']);
    assert.deepEqual(names('u2'), ['b']);
    assert.equal(inf.byIndex('owner', 'u2')[0]?.metadata.resourceVersion, '2', 'the relisted object');
    assert.throws(() => inf.byIndex('labels', 'x'), /no index labels/);
  });

  it('indexes: an update that keeps an index value keeps the object in its place', async () => {
    const { api, inf } = await setup({ indexers: { all: () => ['x'] } });
    api.listScript = [list('10', [obj('a', '1'), obj('b', '2'), obj('c', '3')])];
    api.watchScript = [stream([ev('MODIFIED', obj('a', '11'))])];
    await inf.start();
    await until('a@11', () => inf.get('ns', 'a')?.metadata.resourceVersion === '11');
    assert.deepEqual(
      inf.byIndex('all', 'x').map((o) => `${o.metadata.name}@${o.metadata.resourceVersion}`),
      ['a@11', 'b@2', 'c@3'],
    );
    assert.deepEqual(
      inf.list('ns').map((o) => o.metadata.name),
      ['a', 'b', 'c'],
      'the same order as list()',
    );
  });

  it('applies the transform to listed and watched objects', async () => {
    const { api, inf } = await setup({
      transform: (o) => ({ metadata: { ...o.metadata, labels: { slim: 'yes' } } }),
    });
    api.listScript = [list('10', [obj('a', '1', { annotations: { big: 'x' } })])];
    api.watchScript = [stream([ev('ADDED', obj('b', '11', { annotations: { big: 'y' } }))])];
    await inf.start();
    await until('b', () => inf.get('ns', 'b') !== undefined);
    for (const n of ['a', 'b']) assert.deepEqual(inf.get('ns', n)?.metadata.labels, { slim: 'yes' });
  });

  for (const [name, gone] of [
    [
      'as an ERROR event',
      stream([ev('ERROR', { kind: 'Status', code: 410, reason: 'Expired', message: 'too old' })]),
    ],
    [
      'as the HTTP status',
      ((_u, res) => json(res, 410, { kind: 'Status', code: 410, reason: 'Gone' })) as Handler,
    ],
  ] as const)
    it(`410 Gone ${name}: lists again and brings the cache to the new list`, async () => {
      const { api, inf, seen } = await setup();
      api.listScript = [
        list('10', [obj('a', '1'), obj('b', '2')]),
        list('30', [obj('a', '25'), obj('c', '26')]),
      ];
      api.watchScript = [gone];
      await inf.start();
      await until('relist and new watch', () => api.watches.length === 2);
      assert.deepEqual(seen, ['add a@1', 'add b@2', 'delete b@2', 'update a@25', 'add c@26']);
      assert.equal(api.watches[1]?.searchParams.get('resourceVersion'), '30');
      assert.equal(inf.restarts, 0, 'an expired resourceVersion is routine, not a failure');
    });

  it('a continue token that expired between pages: lists again in one go', async () => {
    const { api, inf, seen } = await setup({ pageSize: 1 });
    api.listScript = [
      list('10', [obj('a', '1')], 'p2'),
      (_u, res) => json(res, 410, { kind: 'Status', code: 410, reason: 'Expired' }),
      list('12', [obj('a', '1'), obj('b', '2')]),
    ];
    await inf.start();
    assert.deepEqual(
      api.lists.map((u) => [u.searchParams.get('limit'), u.searchParams.get('continue')]),
      [
        ['1', null],
        ['1', 'p2'],
        [null, null],
      ],
    );
    assert.deepEqual(seen, ['add a@1', 'add b@2']);
  });

  it('after a dropped connection or a server error: backs off, resumes from the last resourceVersion', async () => {
    const { api, inf, logs } = await setup();
    api.listScript = [list('10', [obj('a', '1')])];
    api.watchScript = [
      (_u, res) => {
        stream([ev('MODIFIED', obj('a', '11'))])(_u, res, _u as never);
        setTimeout(() => res.socket?.destroy(), 50); // connection cut mid-stream
      },
      (_u, res) => json(res, 500, { kind: 'Status', code: 500, message: 'etcd unavailable' }),
      stream(['this is not json\n']),
    ];
    await inf.start();
    await until('fourth watch', () => api.watches.length === 4);
    assert.deepEqual(
      api.watches.map((u) => u.searchParams.get('resourceVersion')),
      ['10', '11', '11', '11'],
    );
    assert.equal(api.lists.length, 1, 'no relist for errors that are not 410');
    assert.equal(inf.restarts, 3);
    assert.ok(inf.lastError instanceof WatchProtocolError, String(inf.lastError));
    assert.match(logs[1] ?? '', /watch failed; restarting: .*500.*etcd unavailable/);
    assert.equal(inf.get('ns', 'a')?.metadata.resourceVersion, '11');
  });

  it('a watch that stays silent past the idle timeout is abandoned and started again', async () => {
    const { api, inf } = await setup({ idleTimeoutMs: 200 });
    api.listScript = [list('10', [])];
    api.watchScript = [stream([]), stream([])]; // accepted, then nothing: a dead connection
    await inf.start();
    const t0 = Date.now();
    await until('second watch', () => api.watches.length === 2);
    assert.ok(Date.now() - t0 >= 150, 'not before the idle timeout');
    assert.ok(inf.lastError instanceof WatchIdleTimeoutError, String(inf.lastError));
    assert.equal(api.watches[1]?.searchParams.get('resourceVersion'), '10');
  });

  it('bookmarks keep a quiet watch alive past the idle timeout', async () => {
    const { api, inf } = await setup({ idleTimeoutMs: 300 });
    api.listScript = [list('10', [])];
    api.watchScript = [
      (u, res, req) => {
        stream([])(u, res, req);
        let rv = 10;
        const t = setInterval(
          () => res.write(ev('BOOKMARK', { metadata: { resourceVersion: String(++rv) } })),
          100,
        );
        res.on('close', () => clearInterval(t));
      },
    ];
    await inf.start();
    await sleep(800);
    assert.equal(api.watches.length, 1);
    assert.equal(inf.restarts, 0);
  });

  it('a server that ends every watch at once is throttled', async () => {
    const { api, inf } = await setup({ backoffMs: 100, maxBackoffMs: 400 });
    api.listScript = [list('10', [])];
    api.watchScript = Array.from({ length: 50 }, () => stream([], { end: true }));
    await inf.start();
    await sleep(600);
    // 0 + 100 + 200 + 400 ms of waiting: at most 4 watches, not a tight loop
    assert.ok(api.watches.length <= 4, `${api.watches.length} watches in 600 ms`);
    assert.ok(api.watches.length >= 2);
  });

  it('start() resolves only after a successful list; list errors are retried', async () => {
    const { api, inf, seen } = await setup();
    let resolved = false;
    api.listScript = [(_u, res) => json(res, 403, { kind: 'Status', code: 403, message: 'forbidden' })];
    const started = inf.start().then(() => {
      resolved = true;
    });
    await until('first list', () => api.lists.length === 1);
    await sleep(50);
    assert.equal(resolved, false);
    assert.equal(inf.hasSynced, false);
    api.listScript.push(list('10', [obj('a', '1')]));
    await started;
    assert.equal(inf.hasSynced, true);
    assert.ok(inf.restarts >= 1);
    assert.deepEqual(seen, ['add a@1']);
  });

  it('stop() closes the watch and nothing is emitted afterwards', async () => {
    const { api, inf, seen } = await setup();
    api.listScript = [list('10', [])];
    let res: ServerResponse | undefined;
    let closed = false;
    api.watchScript = [
      (u, r, req) => {
        res = r;
        stream([])(u, r, req);
        req.socket.on('close', () => {
          closed = true;
        });
      },
    ];
    await inf.start();
    await until('watch', () => res !== undefined);
    inf.stop();
    await until('connection closed', () => closed);
    await sleep(100);
    assert.deepEqual(seen, []);
    assert.equal(api.watches.length, 1, 'no new watch after stop');
  });
});
