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

  const server: Server = createServer((client) => {
    accepted++;
    if (refusing) {
      client.destroy();
      return;
    }
    const upstream = new Socket();
    const pair: Pair = { client, upstream, connected: false, piped: false };
    pairs.add(pair);
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
      if (!stalled) flow(pair);
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
      for (const p of pairs) flow(p);
    },
    cut() {
      each((s) => s.resetAndDestroy());
      pairs.clear();
    },
    refuse(on: boolean) {
      refusing = on;
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
