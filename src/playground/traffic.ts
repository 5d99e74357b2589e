import { Agent, request } from '../kube/node-http.ts';

export interface BurstOptions {
  /** data plane base URL, e.g. http://127.0.0.1:18080 */
  url: string;
  host: string;
  path: string;
  requests: number;
  headers?: Record<string, string>;
  concurrency?: number;
  timeoutMs?: number;
  onProgress?: (done: number, total: number) => void;
}

export interface BurstResult {
  total: number;
  /** answers per version the backend reported */
  byVersion: Record<string, number>;
  /** non-2xx answers by status, and transport errors */
  failures: Record<string, number>;
  durationMs: number;
}

/**
 * Sends `requests` GETs through the data plane (keep-alive, bounded
 * concurrency) and counts which version answered each: the emulated
 * containers put their image tag in the JSON body and the x-kanary-version header.
 */
export async function burst(o: BurstOptions): Promise<BurstResult> {
  const base = new URL(o.url);
  const agent = new Agent({ keepAlive: true, maxSockets: o.concurrency ?? 16 });
  const byVersion: Record<string, number> = {};
  const failures: Record<string, number> = {};
  let next = 0;
  let done = 0;
  const started = performance.now();
  const one = () =>
    new Promise<void>((resolve) => {
      const req = request(
        {
          host: base.hostname,
          port: base.port || 80,
          path: o.path,
          agent,
          timeout: o.timeoutMs ?? 5000,
          headers: { host: o.host, ...o.headers },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => {
            const code = res.statusCode ?? 0;
            if (code >= 200 && code < 300) {
              let version = String(res.headers['x-kanary-version'] ?? '');
              if (!version) {
                try {
                  version = String(JSON.parse(Buffer.concat(chunks).toString('utf8')).version ?? 'unknown');
                } catch {
                  version = 'unknown';
                }
              }
              byVersion[version] = (byVersion[version] ?? 0) + 1;
            } else {
              failures[`HTTP ${code}`] = (failures[`HTTP ${code}`] ?? 0) + 1;
            }
            resolve();
          });
          res.on('error', () => resolve());
        },
      );
      req.on('timeout', () => req.destroy(new Error('timeout')));
      req.on('error', (err) => {
        const key = (err as NodeJS.ErrnoException).code ?? err.message;
        failures[key] = (failures[key] ?? 0) + 1;
        resolve();
      });
      req.end();
    });
  const worker = async () => {
    while (next < o.requests) {
      next++;
      await one();
      done++;
      o.onProgress?.(done, o.requests);
    }
  };
  await Promise.all(Array.from({ length: Math.min(o.concurrency ?? 16, o.requests) }, worker));
  agent.destroy();
  return { total: o.requests, byVersion, failures, durationMs: performance.now() - started };
}
