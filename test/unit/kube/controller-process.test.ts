/**
 * The controller process's memory diet (docs/benchmarks.md, "Rollout
 * controller"): it loads no @kubernetes/client-node code (~80 MB of RSS) and
 * runs with small V8 semi-spaces, set by bin/kanary.js re-executing itself.
 * No cluster needed: the API server is a closed port, which the controller
 * retries while its health endpoint is up.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { stringify } from 'yaml';
import { freePort } from '../../../src/cluster/ports.ts';

const root = join(import.meta.dirname, '..', '..', '..');
const dir = mkdtempSync(join(tmpdir(), 'kanary-ctrl-proc-'));
after(() => rmSync(dir, { recursive: true, force: true }));

async function startController(env: NodeJS.ProcessEnv) {
  const apiPort = await freePort(); // nothing listens: every request fails and is retried
  const kubeconfig = join(dir, `kc-${apiPort}.yaml`);
  writeFileSync(
    kubeconfig,
    stringify({
      clusters: [{ name: 'c', cluster: { server: `http://127.0.0.1:${apiPort}` } }],
      users: [{ name: 'u', user: { token: 't' } }],
      contexts: [{ name: 'c', context: { cluster: 'c', user: 'u' } }],
      'current-context': 'c',
    }),
  );
  const healthPort = await freePort();
  const child = spawn(
    process.execPath,
    [
      join(root, 'bin', 'kanary.js'),
      'controller',
      '--kubeconfig',
      kubeconfig,
      '--health-port',
      String(healthPort),
    ],
    { env: { ...process.env, ...env }, stdio: 'ignore' },
  );
  const exited = new Promise((r) => child.once('exit', r));
  for (let i = 0; ; i++) {
    const live = await fetch(`http://127.0.0.1:${healthPort}/healthz`).then(
      (r) => r.ok,
      () => false,
    );
    if (live) break;
    if (i > 300 || child.exitCode !== null) throw new Error('controller did not come up');
    await sleep(100);
  }
  return {
    cmdline: readFileSync(`/proc/${child.pid}/cmdline`, 'utf8').split('\0'),
    environ: readFileSync(`/proc/${child.pid}/environ`, 'utf8').split('\0'),
    stop: async () => {
      child.kill('SIGKILL');
      await exited;
    },
  };
}

it('loads no client-node code nor undici, and re-executes itself, same PID, with 8 MB semi-spaces and 2 malloc arenas', async () => {
  const trace = join(dir, 'modules.txt');
  const hook = join(dir, 'trace.mjs');
  const builtins = join(dir, 'builtins.txt');
  writeFileSync(
    hook,
    `import { registerHooks } from 'node:module';
import { appendFileSync, writeFileSync } from 'node:fs';
registerHooks({ load(url, ctx, next) { appendFileSync(${JSON.stringify(trace)}, url + '\\n'); return next(url, ctx); } });
setInterval(() => writeFileSync(${JSON.stringify(builtins)}, process.moduleLoadList.join('\\n')), 100).unref();
`,
  );
  const c = await startController({ NODE_OPTIONS: `--import=${hook}` });
  try {
    // Node's built-in modules as the running controller has them, written after it was up
    const up = Date.now();
    while (!existsSync(builtins) || statSync(builtins).mtimeMs <= up) await sleep(50);
    const loaded = readFileSync(builtins, 'utf8').split('\n');
    assert.ok(loaded.includes('NativeModule http'), 'the list is of a process that talks HTTP');
    // an ES-module import of node:http would have loaded undici (~13 MB; src/kube/node-http.ts)
    assert.deepEqual(
      loaded.filter((m) => m.includes('undici')),
      [],
    );
    assert.ok(c.cmdline.includes('--max-semi-space-size=8'), c.cmdline.join(' '));
    assert.ok(c.environ.includes('MALLOC_ARENA_MAX=2'));
    const modules = readFileSync(trace, 'utf8').split('\n');
    assert.ok(
      modules.some((m) => m.endsWith('/src/controller/rollout-controller.ts')),
      'the trace saw the controller',
    );
    assert.deepEqual(
      modules.filter((m) => m.includes('@kubernetes/client-node')),
      [],
    );
  } finally {
    await c.stop();
  }
});

it("leaves a user's own --max-semi-space-size alone", async () => {
  const c = await startController({ NODE_OPTIONS: '--max-semi-space-size=16' });
  try {
    assert.ok(!c.cmdline.some((a) => a.startsWith('--max-semi-space-size')), c.cmdline.join(' '));
    assert.ok(!c.environ.some((e) => e.startsWith('MALLOC_ARENA_MAX=')));
  } finally {
    await c.stop();
  }
});
