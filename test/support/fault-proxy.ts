/**
 * A fault-injecting TCP proxy for tests: put it between a client and the real
 * API server (or any TCP server) and make the connection misbehave on demand.
 * It forwards raw bytes, so TLS passes through untouched (the client still
 * verifies the API server's certificate, which is valid for 127.0.0.1).
 *
 *   const proxy = await startFaultProxy(6443);
 *   proxy.stall();   // connections stay open but no byte moves either way (a hung API server)
 *   proxy.resume();  // bytes flow again, including what was held back
 *   proxy.cut();     // every open connection is reset; new ones are accepted
 *   proxy.refuse(true); // new connections are closed at once (the server is "down")
 *   proxy.blackholeNextRequests(1); // the next connection the client writes on goes silent for good
 */
import { createServer, type Server, Socket } from 'node:net';

export interface FaultProxy {
  /** the port the proxy listens on (127.0.0.1) */
  readonly port: number;
  /** bytes in either direction are held (not forwarded) until resume() */
  stall(): void;
  resume(): void;
  /** resets every open connection */
  cut(): void;
  /** while true, new connections are closed as soon as they are accepted */
  refuse(on: boolean): void;
  /**
   * The next `n` connections on which the client sends bytes (a request, a
   * TLS handshake) go silent from then on, in both directions, until they
   * close: the request's answer never comes, as with a connection lost in the
   * network. The first chunk may still reach the server. Other connections,
   * such as watches that only receive, keep flowing; resume() does not revive
   * a black-holed connection.
   */
  blackholeNextRequests(n: number): void;
  /** connections black-holed so far */
  readonly blackholed: number;
  /** when the client side last sent bytes on any connection (Date.now()), 0 if never */
  readonly lastClientWriteAt: number;
  /** connections accepted so far */
  readonly accepted: number;
  /** connections open now */
  readonly open: number;
  close(): Promise<void>;
}

interface Pair {
  client: Socket;
  upstream: Socket;
  connected: boolean;
  piped: boolean;
  blackholed: boolean;
}

function flow(p: Pair): void {
  if (!p.connected || p.piped) return;
  p.piped = true;
  p.client.pipe(p.upstream);
  p.upstream.pipe(p.client);
}

function hold(p: Pair): void {
  if (p.piped) {
    p.piped = false;
    p.client.unpipe(p.upstream);
    p.upstream.unpipe(p.client);
  }
  p.client.pause();
  p.upstream.pause();
}

export async function startFaultProxy(targetPort: number, targetHost = '127.0.0.1'): Promise<FaultProxy> {
  const pairs = new Set<Pair>();
  let stalled = false;
  let refusing = false;
  let accepted = 0;
  let blackholeBudget = 0;
  let blackholed = 0;
  let lastClientWriteAt = 0;

  const server: Server = createServer((client) => {
    accepted++;
    if (refusing) {
      client.destroy();
      return;
    }
    const upstream = new Socket();
    const pair: Pair = { client, upstream, connected: false, piped: false, blackholed: false };
    pairs.add(pair);
    client.on('data', () => {
      lastClientWriteAt = Date.now();
      if (blackholeBudget > 0 && !pair.blackholed) {
        blackholeBudget--;
        blackholed++;
        pair.blackholed = true;
        hold(pair);
      }
    });
    const drop = () => {
      pairs.delete(pair);
      client.destroy();
      upstream.destroy();
    };
    client.on('error', drop).on('close', drop);
    upstream.on('error', drop).on('close', drop);
    // a stalled proxy reads nothing, so TCP back-pressure holds the bytes in the kernel buffers
    client.pause();
    upstream.connect(targetPort, targetHost, () => {
      pair.connected = true;
      if (!stalled && !pair.blackholed) flow(pair);
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const address = server.address();
  if (!address || typeof address === 'string') throw new Error('fault proxy: no TCP address');

  const each = (fn: (s: Socket) => void) => {
    for (const p of pairs) {
      fn(p.client);
      fn(p.upstream);
    }
  };
  return {
    port: address.port,
    stall() {
      stalled = true;
      for (const p of pairs) hold(p);
    },
    resume() {
      stalled = false;
      for (const p of pairs) if (!p.blackholed) flow(p);
    },
    cut() {
      each((s) => s.resetAndDestroy());
      pairs.clear();
    },
    refuse(on: boolean) {
      refusing = on;
    },
    blackholeNextRequests(n: number) {
      blackholeBudget = n;
    },
    get blackholed() {
      return blackholed;
    },
    get lastClientWriteAt() {
      return lastClientWriteAt;
    },
    get accepted() {
      return accepted;
    },
    get open() {
      return pairs.size;
    },
    close() {
      each((s) => s.destroy());
      pairs.clear();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
