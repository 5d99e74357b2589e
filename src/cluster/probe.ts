import { request as httpsRequest } from 'node:https';
import { setTimeout as sleep } from 'node:timers/promises';
import { request as httpRequest } from '../kube/node-http.ts';

export interface ProbeResult {
  ok: boolean;
  detail: string;
}

/** One GET with a short timeout; self-signed component certificates are accepted (loopback only). */
export function probe(url: string, token?: string, timeoutMs = 2000): Promise<ProbeResult> {
  return new Promise((resolve) => {
    const u = new URL(url);
    const req = (u.protocol === 'https:' ? httpsRequest : httpRequest)(
      u,
      {
        method: 'GET',
        rejectUnauthorized: false,
        timeout: timeoutMs,
        headers: token ? { authorization: `Bearer ${token}` } : {},
      },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => {
          body += d;
        });
        res.on('end', () => {
          const ok = (res.statusCode ?? 0) >= 200 && (res.statusCode ?? 0) < 300;
          resolve({
            ok,
            detail: ok ? 'ok' : `HTTP ${res.statusCode}: ${body.trim().split('\n').slice(-3).join(' ')}`,
          });
        });
      },
    );
    req.on('timeout', () => req.destroy(new Error('timed out')));
    req.on('error', (err) => resolve({ ok: false, detail: err.message }));
    req.end();
  });
}

/** Polls until `check` succeeds; throws with the last detail after `timeoutMs`. */
export async function waitFor(
  what: string,
  check: () => Promise<ProbeResult>,
  timeoutMs: number,
  intervalMs = 250,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last: ProbeResult = { ok: false, detail: 'not checked yet' };
  while (Date.now() < deadline) {
    last = await check();
    if (last.ok) return;
    await sleep(intervalMs);
  }
  throw new Error(`${what} not ready after ${Math.round(timeoutMs / 1000)}s: ${last.detail}`);
}
