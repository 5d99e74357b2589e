import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { it } from 'node:test';
import { promisify } from 'node:util';
import { clusterConfig, files } from '../../../src/cluster/config.ts';
import { adoptProcesses } from '../../../src/cluster/lifecycle.ts';
import { isRunning, type ProcessRecord, spawnDaemon } from '../../../src/cluster/procs.ts';
import { waitUntil } from '../../support/cluster.ts';

const exec = promisify(execFile);
const root = join(import.meta.dirname, '..', '..', '..');
// a cluster of its own, so stopping it leaves the shared test cluster alone
const NAME = 'kanary-lc';

async function kanary(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await exec(process.execPath, [join(root, 'bin', 'kanary.js'), ...args], {
      cwd: root,
      timeout: 240_000,
    });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof e.code === 'number' ? e.code : 1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
  }
}

it('cluster up → kubectl works → a crash is reported → down leaves nothing behind', async () => {
  const c = clusterConfig(NAME);
  await kanary('cluster', '--name', NAME, 'down'); // leftovers of an interrupted earlier run

  const up = await kanary('cluster', '--name', NAME, 'up');
  assert.equal(up.code, 0, up.stderr);
  assert.match(up.stderr, /kube-apiserver ready/);

  const kubeconfig = (await kanary('cluster', '--name', NAME, 'kubeconfig')).stdout.trim();
  assert.equal(kubeconfig, files(c).kubeconfig);
  const nodes = await exec('kubectl', ['--kubeconfig', kubeconfig, 'get', 'nodes', '-o', 'name']);
  assert.deepEqual(nodes.stdout.trim().split('\n'), [
    'node/kwok-node-0',
    'node/kwok-node-1',
    'node/kwok-node-2',
  ]);

  const healthy = await kanary('cluster', '--name', NAME, 'status', '-o', 'json');
  assert.equal(healthy.code, 0, healthy.stdout);
  assert.equal(JSON.parse(healthy.stdout).healthy, true);

  // a second `up` is a no-op on a running cluster
  const again = await kanary('cluster', '--name', NAME, 'up');
  assert.equal(again.code, 0);
  assert.match(again.stderr, /already running/);

  // a process the playground's --keep added, killed by hand: reported, not a cluster fault; `up` forgets it
  const extra = spawnDaemon('playground-extra', 'sleep', ['0.2'], join(c.stateDir, 'extra.log'));
  adoptProcesses(c, [extra]);
  await waitUntil('the added process to end', async () => !isRunning(extra), 10_000, 50);
  const ended = await kanary('cluster', '--name', NAME, 'status', '-o', 'json');
  assert.equal(ended.code, 0, ended.stdout);
  const report = JSON.parse(ended.stdout) as {
    healthy: boolean;
    components: { name: string; state: string }[];
  };
  assert.equal(report.healthy, true);
  assert.equal(report.components.find((x) => x.name === 'playground-extra')?.state, 'stopped');
  const forgot = await kanary('cluster', '--name', NAME, 'up');
  assert.equal(forgot.code, 0, forgot.stderr);
  assert.match(forgot.stderr, /forgot playground-extra/);

  const state = JSON.parse(readFileSync(files(c).state, 'utf8')) as { processes: ProcessRecord[] };
  assert.equal(
    state.processes.some((p) => p.name === 'playground-extra'),
    false,
    'the ended process is forgotten',
  );
  const kwok = state.processes.find((p) => p.name === 'kwok')!;
  process.kill(kwok.pid, 'SIGKILL');
  await new Promise((r) => setTimeout(r, 300));
  const crashed = await kanary('cluster', '--name', NAME, 'status');
  assert.notEqual(crashed.code, 0);
  assert.match(crashed.stdout, /kwok\s+crashed/);
  assert.match(crashed.stdout, /UNHEALTHY/);

  // what a playground leaves where nginx's workers can reach it
  mkdirSync(join(files(c).workerReachable, 'playground', 'ns', 'nginx'), { recursive: true });
  const down = await kanary('cluster', '--name', NAME, 'down');
  assert.equal(down.code, 0, down.stderr);

  for (const p of state.processes) assert.equal(isRunning(p), false, `${p.name} (pid ${p.pid}) still runs`);
  assert.equal(existsSync(`/run/netns/${c.netns}`), false, 'network namespace removed');
  assert.equal(
    readFileSync('/proc/mounts', 'utf8').includes(`/run/netns/${c.netns}`),
    false,
    'no netns mount',
  );
  const links = (await exec('ip', ['-o', 'link', 'show'])).stdout;
  assert.equal(links.includes(`${c.vethHost}@`), false, 'veth removed');
  const routes = (await exec('ip', ['route', 'show'])).stdout;
  assert.equal(routes.includes(c.podCidr), false, 'pod route removed');
  assert.equal(existsSync(c.stateDir), false, 'state folder removed');
  assert.equal(existsSync(files(c).etcdData), false, 'etcd data removed');
  assert.equal(existsSync(files(c).workerReachable), false, 'nginx state dirs removed');

  const after = await kanary('cluster', '--name', NAME, 'kubeconfig');
  assert.notEqual(after.code, 0);
  assert.match(after.stderr, /not running/);
});

it('refuses to start on a busy port with a clear error and leaves nothing behind', async () => {
  const name = 'kanary-pt';
  const c = clusterConfig(name);
  await kanary('cluster', '--name', name, 'down');
  const { createServer } = await import('node:net');
  const blocker = createServer();
  await new Promise<void>((r) => blocker.listen(c.ports.apiserver, '127.0.0.1', r));
  try {
    const up = await kanary('cluster', '--name', name, 'up');
    assert.notEqual(up.code, 0);
    assert.match(
      up.stderr,
      new RegExp(`ports in use on 127\\.0\\.0\\.1: ${c.ports.apiserver} \\(apiserver\\)`),
    );
    assert.match(up.stderr, /KANARY_PORT_BASE/);
    assert.equal(existsSync(`/run/netns/${c.netns}`), false);
  } finally {
    blocker.close();
  }
});

it('cleans up a stale cluster whose processes died, then starts', async () => {
  const name = 'kanary-st';
  const c = clusterConfig(name);
  await kanary('cluster', '--name', name, 'down');
  assert.equal((await kanary('cluster', '--name', name, 'up')).code, 0);
  const state = JSON.parse(readFileSync(files(c).state, 'utf8')) as { processes: ProcessRecord[] };
  for (const p of state.processes) process.kill(-p.pid, 'SIGKILL');
  await new Promise((r) => setTimeout(r, 300));
  try {
    const up = await kanary('cluster', '--name', name, 'up');
    assert.equal(up.code, 0, up.stderr);
    assert.match(up.stderr, /stale cluster "kanary-st" from an earlier run/);
    assert.equal(
      JSON.parse((await kanary('cluster', '--name', name, 'status', '-o', 'json')).stdout).healthy,
      true,
    );
  } finally {
    await kanary('cluster', '--name', name, 'down');
  }
});

it('says what to install when the control plane must be built and Go is missing', async () => {
  const { mkdtempSync, rmSync } = await import('node:fs');
  const { tmpdir } = await import('node:os');
  const cache = mkdtempSync(join(tmpdir(), 'kanary-nogo-'));
  try {
    const res = await exec(process.execPath, [join(root, 'bin', 'kanary.js'), 'cluster', 'build'], {
      cwd: root,
      // an empty cache forces a build; a PATH without Go makes it impossible
      env: { ...process.env, KANARY_CACHE_DIR: cache, PATH: '/usr/sbin:/usr/bin:/sbin:/bin' },
    }).then(
      () => ({ code: 0, stderr: '' }),
      (e: { code?: number; stderr?: string }) => ({ code: e.code ?? 1, stderr: e.stderr ?? '' }),
    );
    assert.notEqual(res.code, 0);
    assert.match(
      res.stderr,
      /the Go toolchain is needed once, to build the local control plane, and was not found/,
    );
    assert.match(res.stderr, /hint: install Go >= 1\.26/);
  } finally {
    rmSync(cache, { recursive: true, force: true });
  }
});
