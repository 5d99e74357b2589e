/**
 * One bounded HTTP(S) request for the metric providers. Hand-written on
 * node:http/https rather than fetch: the providers' `insecure: true` needs TLS
 * verification off for one request, which Node's fetch only allows through
 * undici's Agent (not a dependency of Kanary). Bounded in time (the whole
 * exchange) and in size (the body is cut off with an error past maxBytes).
 */
import type { IncomingHttpHeaders } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { request as httpRequest } from '../../kube/node-http.ts';

export interface HttpRequest {
  method: string;
  url: string;
  headers?: Record<string, string>;
  body?: string;
  timeoutMs: number;
  insecure?: boolean;
  maxBytes?: number;
}

export interface HttpResponse {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
}

export const DEFAULT_MAX_BODY_BYTES = 10 * 1024 * 1024;

/** Resolves with the response or rejects with a Go-like `Get "url": reason` error. */
export function send(req: HttpRequest): Promise<HttpResponse> {
  const verb = req.method.charAt(0) + req.method.slice(1).toLowerCase();
  const fail = (reason: string) => new Error(`${verb} ${JSON.stringify(req.url)}: ${reason}`);
  let url: URL;
  try {
    url = new URL(req.url);
  } catch {
    return Promise.reject(fail('invalid URL'));
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:')
    return Promise.reject(fail(`unsupported protocol scheme "${url.protocol.replace(/:$/, '')}"`));
  const max = req.maxBytes ?? DEFAULT_MAX_BODY_BYTES;
  return new Promise((resolve, reject) => {
    // settled exactly once: once a response started, destroying the request emits no error event
    let settled = false;
    const settle = (err: Error | undefined, res?: HttpResponse) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (err) {
        reject(err);
        r.destroy();
      } else resolve(res!);
    };
    const headers: Record<string, string> = { ...req.headers };
    if (req.body !== undefined) headers['Content-Length'] = String(Buffer.byteLength(req.body));
    const make = url.protocol === 'https:' ? httpsRequest : httpRequest;
    const r = make(url, {
      method: req.method,
      headers,
      rejectUnauthorized: !req.insecure,
      agent: false,
    });
    const timer = setTimeout(
      () => settle(fail(`timeout after ${req.timeoutMs / 1000}s (Client.Timeout exceeded)`)),
      req.timeoutMs,
    );
    r.on('error', (e) => settle(fail(e.message)));
    r.on('response', (res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (c: Buffer) => {
        size += c.length;
        if (size > max) settle(fail(`response body larger than ${max} bytes`));
        else chunks.push(c);
      });
      res.on('error', (e) => settle(fail(e.message)));
      res.on('end', () =>
        settle(undefined, {
          status: res.statusCode ?? 0,
          headers: res.headers,
          body: Buffer.concat(chunks).toString('utf8'),
        }),
      );
    });
    r.end(req.body);
  });
}
