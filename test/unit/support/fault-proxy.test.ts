/** The fault proxy the hardening tests put in front of the API server does what it says. */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { connect, createServer, type Socket } from 'node:net';
import { describe, it } from 'node:test';
import { startFaultProxy } from '../../support/fault-proxy.ts';

async function echoServer() {
  const server = createServer((s) => s.on('error', () => {}).pipe(s));
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const addr = server.address();
  if (!addr || typeof addr === 'string') throw new Error('no address');
  return { port: addr.port, close: () => new Promise<void>((r) => server.close(() => r())) };
}

function reader(sock: Socket) {
  let got = '';
  sock.on('data', (d) => (got += d.toString()));
  return () => got;
}

const until = async (cond: () => boolean, ms = 2000) => {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) return false;
    await new Promise((r) => setTimeout(r, 10));
  }
  return true;
};

describe('fault proxy', () => {
  it('forwards, holds bytes while stalled, delivers them on resume, cuts and refuses', async (t) => {
    const echo = await echoServer();
    const proxy = await startFaultProxy(echo.port);
    t.after(async () => {
      await proxy.close();
      await echo.close();
    });
    const sock = connect(proxy.port, '127.0.0.1');
    await once(sock, 'connect');
    const got = reader(sock);
    sock.write('a');
    assert.ok(await until(() => got() === 'a'), `forwarded: got ${JSON.stringify(got())}`);

    proxy.stall();
    sock.write('b');
    assert.equal(await until(() => got().length > 1, 300), false, 'nothing moves while stalled');
    proxy.resume();
    assert.ok(await until(() => got() === 'ab'), `held bytes delivered on resume: ${JSON.stringify(got())}`);

    // a connection opened while stalled is accepted but carries nothing
    proxy.stall();
    const late = connect(proxy.port, '127.0.0.1');
    await once(late, 'connect');
    const lateGot = reader(late);
    late.write('c');
    assert.equal(await until(() => lateGot() !== '', 300), false);
    proxy.resume();
    assert.ok(await until(() => lateGot() === 'c'));

    const closed = new Promise((r) => sock.once('close', r)); // events.once would reject on the reset's 'error'
    late.on('error', () => {});
    sock.on('error', () => {});
    proxy.cut();
    await closed;
    assert.equal(proxy.open, 0);

    proxy.refuse(true);
    const refused = connect(proxy.port, '127.0.0.1');
    refused.on('error', () => {});
    await new Promise((r) => refused.once('close', r));
    assert.equal(proxy.open, 0);
    assert.equal(proxy.accepted, 3);
  });

  it('black-holes the next connection the client writes on; the others keep flowing', async (t) => {
    const echo = await echoServer();
    const proxy = await startFaultProxy(echo.port);
    t.after(async () => {
      await proxy.close();
      await echo.close();
    });
    const open = async () => {
      const sock = connect(proxy.port, '127.0.0.1');
      sock.on('error', () => {});
      await once(sock, 'connect');
      return { sock, got: reader(sock) };
    };
    const watch = await open(); // like a watch: it wrote before, now it only receives
    watch.sock.write('w');
    assert.ok(await until(() => watch.got() === 'w'));

    proxy.blackholeNextRequests(1);
    const request = await open();
    request.sock.write('r1');
    assert.ok(await until(() => proxy.blackholed === 1));
    request.sock.write('r2');
    // the black-holed connection answers nothing, not even after resume()
    proxy.resume();
    assert.equal(await until(() => request.got().includes('r2'), 300), false, `got ${request.got()}`);

    // the budget is spent: other connections, old and new, still work
    watch.sock.write('x');
    assert.ok(await until(() => watch.got() === 'wx'), `watch got ${watch.got()}`);
    const next = await open();
    next.sock.write('n');
    assert.ok(await until(() => next.got() === 'n'), `next got ${next.got()}`);
    assert.equal(proxy.blackholed, 1);
    assert.ok(Date.now() - proxy.lastClientWriteAt < 2000);
  });
});
