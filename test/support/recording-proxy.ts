/**
 * A recording HTTPS proxy in front of the real API server, for the
 * least-privilege tests: it terminates TLS with the API server's own
 * certificate and key (so a client that trusts the cluster's CA, as a pod does
 * through kube-root-ca.crt, trusts it too), forwards every request unchanged
 * (headers, bearer token, body, streamed watch responses) and records who sent
 * what and what the API server answered. The RBAC decisions stay the real API
 * server's; the proxy only watches.
 *
 *   const proxy = await startRecordingProxy(apiserverPort, pkiDir);
 *   proxy.name(token, 'controller');   // label requests by their bearer token
 *   proxy.requests                     // [{ who, method, url, attributes, status }]
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { IncomingMessage } from 'node:http';
import { createServer, request as httpsRequest, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { type RequestAttributes, requestAttributes } from './rbac.ts';

export interface RecordedRequest {
  who: string;
  method: string;
  url: string;
  attributes: RequestAttributes | undefined;
  /** the API server's status code (0: no answer, the connection failed) */
  status: number;
}

export interface RecordingProxy {
  readonly port: number;
  /** requests so far (capped at 200 000) */
  readonly requests: RecordedRequest[];
  /** labels the requests that carry this bearer token */
  name(token: string, who: string): void;
  close(): Promise<void>;
}

const fingerprint = (token: string) => createHash('sha256').update(token).digest('hex').slice(0, 12);

export async function startRecordingProxy(targetPort: number, pkiDir: string): Promise<RecordingProxy> {
  const cert = readFileSync(join(pkiDir, 'apiserver.crt'));
  const key = readFileSync(join(pkiDir, 'apiserver.key'));
  const names = new Map<string, string>();
  const requests: RecordedRequest[] = [];
  const sockets = new Set<{ destroy(): void }>();

  const server: Server = createServer({ cert, key }, (req, res) => {
    const auth = req.headers.authorization ?? '';
    const token = auth.startsWith('Bearer ') ? auth.slice(7) : '';
    const who = token ? (names.get(fingerprint(token)) ?? `token ${fingerprint(token)}`) : 'anonymous';
    const entry: RecordedRequest = {
      who,
      method: req.method ?? 'GET',
      url: req.url ?? '/',
      attributes: requestAttributes(req.method ?? 'GET', req.url ?? '/'),
      status: 0,
    };
    if (requests.length < 200_000) requests.push(entry);
    const headers = { ...req.headers, host: `127.0.0.1:${targetPort}` };
    const upstream = httpsRequest(
      { host: '127.0.0.1', port: targetPort, method: req.method, path: req.url, headers, ca: cert },
      (up: IncomingMessage) => {
        entry.status = up.statusCode ?? 0;
        res.writeHead(up.statusCode ?? 502, up.headers);
        up.pipe(res);
        up.on('error', () => res.destroy());
      },
    );
    upstream.on('error', () => {
      if (!res.headersSent) res.writeHead(502);
      res.end();
    });
    req.pipe(upstream);
    // a client that goes away (a watch it closes) ends the upstream request too
    res.on('close', () => upstream.destroy());
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  return {
    port: (server.address() as AddressInfo).port,
    requests,
    name(token, who) {
      names.set(fingerprint(token), who);
    },
    // not waiting for the server's close: clients that are still running reconnect meanwhile
    close: async () => {
      server.close();
      server.closeAllConnections();
      for (const s of sockets) s.destroy();
    },
  };
}
