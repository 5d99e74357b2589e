/**
 * The emulated containers of the local cluster. Runs *inside* the pod network
 * namespace (started by the pod runtime through `ip netns exec`) and binds one
 * HTTP server per pod IP and container port. It takes orders as JSON lines on
 * stdin and answers on stdout, so it needs no access to the API server, which
 * listens on the host's loopback.
 */
import type { Server } from 'node:http';
import { createInterface } from 'node:readline';
import { createServer } from '../kube/node-http.ts';
import { responseFor } from './images.ts';
import {
  type PodServerReply,
  type PodServerRequest,
  RECEIVED_PATH,
  type ServedPod,
} from './podserver-protocol.ts';

const running = new Map<string, Server[]>();
/** which server holds each ip:port, including servers of deleted pods still finishing requests */
const byAddress = new Map<string, Server>();

function closeNow(server: Server): void {
  server.close();
  server.closeAllConnections();
}

function handler(pod: ServedPod, port: number) {
  const received = new Map<string, number>();
  return (req: import('node:http').IncomingMessage, res: import('node:http').ServerResponse) => {
    if (req.method === 'GET' && req.url === RECEIVED_PATH) {
      req.resume();
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(`${JSON.stringify({ pod: pod.pod, byTag: Object.fromEntries(received) })}\n`);
      return;
    }
    const tag = String(req.headers['x-kanary-tag'] ?? '');
    // bounded: a test tags its runs with a few values; anything beyond goes under one key
    const key = received.has(tag) || received.size < 1000 ? tag : '(other)';
    received.set(key, (received.get(key) ?? 0) + 1);
    // drawn per request: errorRate and the latency distribution (images.ts)
    const { status, delayMs } = responseFor(pod.behaviour, Math.random);
    const reply = () => {
      const body = `${JSON.stringify({
        pod: pod.pod,
        namespace: pod.namespace,
        node: pod.node,
        container: pod.container,
        image: pod.image,
        version: pod.version,
        podIP: pod.ip,
        port,
        method: req.method,
        path: req.url,
        headers: req.headers,
      })}\n`;
      res.writeHead(status, {
        'content-type': 'application/json',
        'x-kanary-pod': pod.pod,
        'x-kanary-version': pod.version,
      });
      res.end(body);
    };
    // drain the request body before answering, so keep-alive connections stay usable
    req.resume();
    req.on('end', () => {
      if (delayMs > 0) setTimeout(reply, delayMs);
      else reply();
    });
  };
}

function listen(server: Server, ip: string, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, ip, () => {
      server.off('error', reject);
      resolve();
    });
  });
}

async function start(req: Extract<PodServerRequest, { op: 'start' }>): Promise<PodServerReply> {
  if (running.has(req.key)) return { key: req.key, ok: true };
  const servers: Server[] = [];
  try {
    for (const c of req.containers) {
      for (const port of c.ports) {
        const address = `${c.ip}:${port}`;
        // kwok hands a freed IP to the next pod at once: the address now belongs to this pod, so
        // whatever still holds it (a deleted pod finishing requests, or one whose deletion we have
        // not seen yet) lets go
        const previous = byAddress.get(address);
        if (previous) {
          closeNow(previous);
          await new Promise<void>((r) => (previous.listening ? previous.once('close', () => r()) : r()));
        }
        const server = createServer({ keepAliveTimeout: 65_000 }, handler(c, port));
        await listen(server, c.ip, port);
        byAddress.set(address, server);
        server.once('close', () => {
          if (byAddress.get(address) === server) byAddress.delete(address);
        });
        servers.push(server);
      }
    }
    running.set(req.key, servers);
    return { key: req.key, ok: true };
  } catch (err) {
    for (const s of servers) s.close();
    return { key: req.key, ok: false, error: (err as Error).message };
  }
}

function stop(req: Extract<PodServerRequest, { op: 'stop' }>): PodServerReply {
  const servers = running.get(req.key);
  running.delete(req.key);
  if (servers) {
    // like a container that finishes in-flight requests after SIGTERM
    setTimeout(() => {
      for (const s of servers) closeNow(s);
    }, req.lingerMs ?? 0).unref();
  }
  return { key: req.key, ok: true };
}

const rl = createInterface({ input: process.stdin });
rl.on('line', async (line) => {
  let reply: PodServerReply;
  try {
    const req = JSON.parse(line) as PodServerRequest;
    reply = req.op === 'start' ? await start(req) : stop(req);
  } catch (err) {
    reply = { key: '', ok: false, error: `bad request: ${(err as Error).message}` };
  }
  process.stdout.write(`${JSON.stringify(reply)}\n`);
});
// the runtime went away: so do the pods
rl.on('close', () => process.exit(0));
