/**
 * What nginx's unprivileged workers do by path under the state directory:
 * spool large request bodies to temp files, and reopen the access log after
 * the metrics pipeline rotates it. Real nginx with Kanary's configuration and
 * a local backend (no cluster needed: the endpoints are pushed directly).
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { pino } from 'pino';
import { AccessLogTailer, DataPlaneMetrics } from '../../../src/dataplane/metrics.ts';
import {
  checkWorkersCanReach,
  ensureDefaultCert,
  NginxProcess,
  statePaths,
} from '../../../src/dataplane/nginx.ts';
import { renderConfig, renderState } from '../../../src/dataplane/render.ts';
import { waitUntil } from '../../support/cluster.ts';
import { oneAppModel } from '../../support/dataplane-model.ts';
import { freePort } from './support.ts';

function post(port: number, body: Buffer): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const req = request(
      { host: '127.0.0.1', port, method: 'POST', path: '/upload', headers: { host: 'app.test' } },
      (res) => {
        let text = '';
        res.on('data', (c: Buffer) => {
          text += c.toString();
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

/** A backend nginx that answers every request with its body size. */
async function startBackend(dir: string, port: number): Promise<ChildProcess> {
  mkdirSync(join(dir, 'logs'), { recursive: true });
  const temp = ['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi']
    .map((t) => `${t}_temp_path ${dir};`)
    .join(' ');
  writeFileSync(
    join(dir, 'nginx.conf'),
    `daemon off; pid ${dir}/nginx.pid; error_log ${dir}/logs/error.log warn; events {}
http { access_log off; ${temp} client_max_body_size 8m;
  server { listen 127.0.0.1:${port}; location / { return 200 "got $content_length\\n"; } } }`,
  );
  const child = spawn(
    'nginx',
    ['-p', dir, '-c', join(dir, 'nginx.conf'), '-e', join(dir, 'logs', 'error.log')],
    {
      stdio: 'ignore',
    },
  );
  await waitUntil('the backend', async () => {
    try {
      await fetch(`http://127.0.0.1:${port}/`);
      return true;
    } catch {
      return false;
    }
  });
  return child;
}

test('nginx workers spool large bodies and reopen rotated logs under the state directory', async (t) => {
  const root = mkdtempSync(join(tmpdir(), 'kanary-workers-'));
  chmodSync(root, 0o755); // mkdtemp makes it private; the workers must get through it
  t.after(() => rmSync(root, { recursive: true, force: true }));
  const backendPort = await freePort();
  const backend = await startBackend(join(root, 'backend'), backendPort);
  t.after(() => backend.kill());

  const dir = join(root, 'kanary');
  const nginx = new NginxProcess({ binary: 'nginx', stateDir: dir, log: pino({ level: 'error' }) });
  const model = oneAppModel(backendPort);
  const httpPort = await freePort();
  await nginx.start(
    renderConfig(model, {
      stateDir: dir,
      luaDir: join(import.meta.dirname, '..', '..', '..', 'src', 'dataplane', 'lua'),
      modulesDir: '/usr/lib/nginx/modules',
      bindAddress: '127.0.0.1',
      httpPort,
      httpsPort: await freePort(),
      workerProcesses: '2',
      defaultCert: await ensureDefaultCert(dir),
    }),
  );
  t.after(() => nginx.stop());
  await nginx.pushState({ version: 1, ...renderState(model) });

  // the pipeline rotates past 20 KB (rename + reopen); counting must go on in the new file
  const metrics = new DataPlaneMetrics();
  const log = statePaths(dir).accessLog;
  const tailer = new AccessLogTailer(
    log,
    (e) => metrics.observe(e),
    () => nginx.reopenLogs(),
    20_000,
  );
  tailer.start(100);
  t.after(() => tailer.stop());
  const counted = async () => {
    const text = await metrics.registry.metrics();
    return Number(/nginx_ingress_controller_requests\{[^}]*ingress="app"[^}]*\} (\d+)/.exec(text)?.[1] ?? 0);
  };
  // 900 KiB is over the 16 KiB client_body_buffer_size: the worker writes it to client_body_temp
  const big = await post(httpPort, Buffer.alloc(900 * 1024, 'k'));
  assert.deepEqual(big, { status: 200, text: `got ${900 * 1024}\n` });

  let sent = 1;
  for (let round = 0; round < 3; round++) {
    for (let i = 0; i < 60; i++, sent++) assert.equal((await post(httpPort, Buffer.from('x'))).status, 200);
    await waitUntil(`all ${sent} requests counted`, async () => (await counted()) === sent, 15_000);
  }
  assert.ok(statSync(`${log}.1`).size > 0, 'the log was rotated');
  assert.ok(statSync(log).size < 20_000 + 5_000, 'nginx writes to the new file after the rotation');
  assert.doesNotMatch(readFileSync(statePaths(dir).errorLog, 'utf8'), /Permission denied/);
});

test('a state directory the workers cannot reach is refused up front, naming the directory', {
  skip: process.getuid?.() !== 0 && 'only root starts nginx with unprivileged workers',
}, () => {
  const root = mkdtempSync(join(tmpdir(), 'kanary-private-'));
  try {
    assert.equal(statSync(root).mode & 0o777, 0o700);
    assert.throws(
      () => checkWorkersCanReach(join(root, 'state')),
      (e: Error) => e.message.includes(`${root} is mode 0700`) && e.message.includes('--state-dir'),
    );
    chmodSync(root, 0o711);
    checkWorkersCanReach(join(root, 'state'));
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});
