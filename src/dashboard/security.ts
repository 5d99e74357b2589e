/**
 * Who may do what on the dashboard, as pure decisions on a request's method
 * and headers (unit-tested in test/unit/dashboard/security.test.ts):
 *
 * - bound to a loopback address it may run without a token (`--auth none`);
 *   bound to any other address it needs `--auth token` or `--read-only`;
 * - with a token, every /api request needs `Authorization: Bearer <token>`
 *   (never a cookie, so a page of another site cannot borrow it: no CSRF);
 * - mutations are PUTs that also pass a same-origin check (Origin and
 *   Sec-Fetch-Site, when the browser sends them, must name this server), and
 *   are refused outright in read-only mode;
 * - on loopback the Host header must be a loopback name, so a DNS-rebinding
 *   page cannot reach a dashboard that runs without a token.
 */
import { timingSafeEqual } from 'node:crypto';
import { isIP } from 'node:net';

export type AuthMode = { mode: 'none' } | { mode: 'token'; token: string };

export interface SecurityConfig {
  /** the address the server is bound to */
  host: string;
  auth: AuthMode;
  readOnly: boolean;
}

export function isLoopback(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '').toLowerCase();
  if (h === 'localhost' || h === '::1') return true;
  return isIP(h) === 4 && h.startsWith('127.');
}

/** Why the dashboard must not start with these settings, or undefined. */
export function bindRefusal(cfg: SecurityConfig): string | undefined {
  if (isLoopback(cfg.host)) return undefined;
  if (cfg.auth.mode === 'token' || cfg.readOnly) return undefined;
  return (
    `refusing to serve the dashboard on ${cfg.host} without authentication: anyone who can reach it could ` +
    'promote or abort rollouts with your credentials. Add --auth token (a generated token, or one from ' +
    '--token-file / $KANARY_DASHBOARD_TOKEN) or --read-only, or bind to 127.0.0.1'
  );
}

export interface Refusal {
  status: number;
  message: string;
}

type Headers = Record<string, string | string[] | undefined>;

const header = (h: Headers, name: string): string | undefined => {
  const v = h[name];
  return Array.isArray(v) ? v[0] : v;
};

function tokenMatches(given: string, expected: string): boolean {
  const a = Buffer.from(given);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}

/** The host name of a Host header (`127.0.0.1:3100` → `127.0.0.1`, `[::1]:3100` → `::1`). */
export function hostName(hostHeader: string): string {
  if (hostHeader.startsWith('[')) return hostHeader.slice(1, hostHeader.indexOf(']'));
  return hostHeader.replace(/:\d+$/, '');
}

export const MUTATING = new Set(['PUT', 'POST', 'PATCH', 'DELETE']);

/**
 * Whether a request may go on: undefined, or the status and message to answer
 * with. `api` is true for /api paths (data), false for the page's static assets.
 */
export function checkRequest(
  cfg: SecurityConfig,
  method: string,
  headers: Headers,
  api: boolean,
): Refusal | undefined {
  const host = header(headers, 'host') ?? '';
  if (isLoopback(cfg.host) && !isLoopback(hostName(host))) {
    return {
      status: 403,
      message: `this dashboard answers only to a loopback host name (localhost, 127.0.0.1), not "${host}"`,
    };
  }
  if (!api) return undefined;
  const mutating = MUTATING.has(method);
  if (mutating && cfg.readOnly) {
    return { status: 403, message: 'the dashboard runs read-only (--read-only): actions are refused' };
  }
  if (cfg.auth.mode === 'token') {
    const m = /^Bearer\s+(\S+)\s*$/i.exec(header(headers, 'authorization') ?? '');
    if (!m) return { status: 401, message: 'missing bearer token: send Authorization: Bearer <token>' };
    if (!tokenMatches(m[1] ?? '', cfg.auth.token)) return { status: 401, message: 'wrong token' };
  }
  if (mutating) {
    if (method !== 'PUT') return { status: 405, message: `use PUT for actions, not ${method}` };
    const origin = header(headers, 'origin');
    if (origin !== undefined && origin !== 'null') {
      let originHost = '';
      try {
        originHost = new URL(origin).host;
      } catch {
        // unreadable: refused below
      }
      if (originHost !== host) {
        return {
          status: 403,
          message: `cross-origin request refused (Origin ${origin}, this server ${host})`,
        };
      }
    } else if (origin === 'null') {
      return { status: 403, message: 'cross-origin request refused (Origin null)' };
    }
    const site = header(headers, 'sec-fetch-site');
    if (site !== undefined && site !== 'same-origin' && site !== 'none') {
      return { status: 403, message: `cross-site request refused (Sec-Fetch-Site: ${site})` };
    }
  }
  return undefined;
}
