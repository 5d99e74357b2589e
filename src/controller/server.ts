import type { Server } from 'node:http';
import type { Registry } from 'prom-client';
import { createServer } from '../kube/node-http.ts';

export interface HealthSource {
  /** process is alive and its loops are running */
  live(): boolean;
  /** caches synced (or standing by for leadership) */
  ready(): boolean;
}

/** /healthz, /readyz and /metrics on one port. */
export function startHealthServer(
  host: string,
  port: number,
  health: HealthSource,
  registry: Registry,
): Promise<Server> {
  const server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (path === '/healthz' || path === '/livez') {
      const ok = health.live();
      res.writeHead(ok ? 200 : 500, { 'content-type': 'text/plain' }).end(ok ? 'ok' : 'not live');
      return;
    }
    if (path === '/readyz') {
      const ok = health.ready();
      res.writeHead(ok ? 200 : 503, { 'content-type': 'text/plain' }).end(ok ? 'ok' : 'not ready');
      return;
    }
    if (path === '/metrics') {
      registry
        .metrics()
        .then((text) => res.writeHead(200, { 'content-type': registry.contentType }).end(text))
        .catch((err) => res.writeHead(500).end(String(err)));
      return;
    }
    res.writeHead(404).end('not found');
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve(server));
  });
}
