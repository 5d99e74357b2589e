/**
 * How large a routing state nginx's shared dict (lua_shared_dict kanary_state 64m) holds, and what
 * happens beyond: pushes states of growing size to a real nginx (no cluster needed), then checks
 * that a route keeps working after a push that does not fit, and how long a fresh nginx takes to
 * start with the largest state on disk.
 *
 *   node_modules/node/bin/node bench/dataplane-state-size.ts
 */
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer, request } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { freePort } from '../src/cluster/ports.ts';
import { ensureDefaultCert, NginxProcess } from '../src/dataplane/nginx.ts';
import { type DynamicState, type RouteState, renderConfig, renderState } from '../src/dataplane/render.ts';
import { oneAppModel } from '../test/support/dataplane-model.ts';

const backend = createServer((_req, res) => res.end('ok\n'));
await new Promise<void>((r) => backend.listen(0, '127.0.0.1', r));
const backendPort = (backend.address() as AddressInfo).port;

const dir = mkdtempSync(join(tmpdir(), 'kanary-state-size-'));
chmodSync(dir, 0o755);
const nginx = new NginxProcess({ binary: 'nginx', stateDir: dir, log: pino({ level: 'fatal' }) });
const model = oneAppModel(backendPort);
const httpPort = await freePort();
const config = renderConfig(model, {
  stateDir: dir,
  luaDir: join(import.meta.dirname, '..', 'src', 'dataplane', 'lua'),
  modulesDir: '/usr/lib/nginx/modules',
  bindAddress: '127.0.0.1',
  httpPort,
  httpsPort: await freePort(),
  workerProcesses: '2',
  defaultCert: await ensureDefaultCert(dir),
});
const real = renderState(model);

/** The real route plus `n` synthetic canary routes, one upstream of 10 endpoints per 2 routes. */
function state(n: number): DynamicState {
  const routes: Record<string, RouteState> = { ...real.routes };
  const upstreams: DynamicState['upstreams'] = { ...real.upstreams };
  for (let i = 0; i < n; i++) {
    const ns = `namespace-${i % 97}`;
    const svc = `service-${Math.floor(i / 2)}`;
    routes[i.toString(16).padStart(12, '0')] = {
      namespace: ns,
      ingress: `ingress-${i}`,
      service: svc,
      upstream: `${ns}-${svc}-80`,
      canary: {
        ingress: `ingress-${i}-canary`,
        upstream: `${ns}-${svc}-canary-80`,
        header: 'X-Canary',
        headerVar: 'x_canary',
        headerValue: '',
        headerPattern: '',
        cookie: '',
        weight: 10,
        weightTotal: 100,
      },
    };
    if (i % 2 === 0) {
      upstreams[`${ns}-${svc}-80`] = Array.from({ length: 10 }, (_, k) => [
        `10.${i % 250}.${k}.${i % 200}`,
        8080,
      ]);
    }
  }
  return { routes, upstreams };
}

/** What a request for the one real route gets: 200 while its state is in shared memory, else 503. */
const status = () =>
  new Promise<number | string>((resolve) => {
    const req = request(
      { host: '127.0.0.1', port: httpPort, path: '/', headers: { host: 'app.test' } },
      (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      },
    );
    req.on('error', (err) => resolve(err.message));
    req.end();
  });

let version = 1;
const push = async (n: number) => {
  const s = { version: ++version, ...state(n) };
  const bytes = Buffer.byteLength(JSON.stringify(s));
  const t0 = performance.now();
  try {
    await nginx.pushState(s);
    return { n, bytes, ok: true, ms: performance.now() - t0 };
  } catch (err) {
    return { n, bytes, ok: false, ms: performance.now() - t0, error: (err as Error).message.slice(0, 120) };
  }
};

try {
  await nginx.start(config);
  await nginx.pushState({ version: 1, ...real });
  console.log(`route before: ${await status()}`);
  let ok = 0;
  let fail = 0;
  for (let n = 1000; ; n *= 2) {
    const r = await push(n);
    console.log(JSON.stringify(r));
    if (!r.ok) {
      fail = n;
      break;
    }
    ok = n;
    if (n > 2_000_000) break;
  }
  while (fail - ok > Math.max(ok / 100, 1)) {
    const mid = Math.floor((ok + fail) / 2);
    const r = await push(mid);
    console.log(JSON.stringify(r));
    if (r.ok) ok = mid;
    else fail = mid;
  }
  const largest = await push(ok);
  console.log(`largest accepted: ${JSON.stringify(largest)}`);
  const over = await push(Math.ceil(fail * 1.01));
  console.log(`first refused: ${JSON.stringify(over)}`);
  console.log(`route after the refused push: ${await status()}`);
  // new workers do not have the old workers' decoded copy: they get the last acknowledged state from disk
  const reloaded = await nginx.reload(config);
  console.log(
    `route after a reload that followed the refused push: ${await status()} (${JSON.stringify(reloaded)})`,
  );
  // a fresh nginx with the largest state on disk (the last acknowledged one)
  await push(ok);
  await nginx.stop();
  const t0 = performance.now();
  await nginx.start(config);
  console.log(
    `fresh start with ${largest.bytes} bytes of state on disk: ${Math.round(performance.now() - t0)} ms; route: ${await status()}`,
  );
} finally {
  await nginx.stop();
  backend.close();
  rmSync(dir, { recursive: true, force: true });
}
