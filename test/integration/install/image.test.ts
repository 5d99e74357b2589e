/**
 * The container image, run: `scripts/build-image.sh` builds it (or finds it
 * built from this checkout), then its own files — not the checkout's — run
 * `kanary --version`, `kanary controller` and `kanary ingress` with
 * `buildah run --isolation chroot --network host` against the local cluster,
 * as the non-root user of the image, and carry the seed scenario (tomozo) from
 * create to promoted with real traffic through the image's nginx.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, execFileSync, spawn, spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { before, describe, it, type TestContext } from 'node:test';
import { clusterConfig, files } from '../../../src/cluster/config.ts';
import { freePort } from '../../../src/cluster/ports.ts';
import { KubeClient, RESOURCES, resourcePath } from '../../../src/kube/client.ts';
import { testNamespace, waitUntil } from '../../support/cluster.ts';
import { rolloutApi, waitForRollout } from '../../support/controller.ts';
import { ROOT } from '../../support/kanary-process.ts';
import { applyAll, tomozoManifests } from '../../support/scenario.ts';
import { tally } from '../dataplane/support.ts';

const why =
  process.getuid?.() !== 0
    ? 'building and running the image needs root (debootstrap, buildah --isolation chroot)'
    : spawnSync('buildah', ['--version']).error && spawnSync('apt-get', ['--version']).error
      ? 'needs buildah (Debian package), and there is no apt-get to install it'
      : undefined;

let image = '';

/** The container's processes, stopped after the test (buildah run passes SIGTERM on to them). */
function buildahRun(t: TestContext, name: string, mounts: string[], argv: string[]) {
  const container = execFileSync('buildah', ['from', '--quiet', '--pull=never', '--name', name, image], {
    encoding: 'utf8',
  }).trim();
  const child = spawn(
    'buildah',
    [
      'run',
      '--isolation',
      'chroot',
      '--network',
      'host',
      ...mounts.flatMap((m) => ['--volume', m]),
      container,
      '--',
      ...argv,
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const logs: string[] = [];
  const onLine = (l: string) => {
    logs.push(l);
    if (logs.length > 300) logs.shift();
  };
  createInterface({ input: child.stdout! }).on('line', onLine);
  createInterface({ input: child.stderr! }).on('line', onLine);
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  t.after(async () => {
    await stop(child, exited);
    spawnSync('buildah', ['rm', container]);
  });
  return { child, logs, exited };
}

async function stop(child: ChildProcess, exited: Promise<void>) {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill('SIGTERM');
  const done = await Promise.race([
    exited.then(() => true),
    new Promise((r) => setTimeout(() => r(false), 15_000)),
  ]);
  if (!done) child.kill('SIGKILL');
  await exited;
}

/**
 * A kubeconfig the image's user (uid 10001) can read, with the CA inline: what
 * a Secret would hand a pod. The cluster's own files are root's.
 */
function readableKubeconfig(t: TestContext): string {
  const dir = mkdtempSync(join(tmpdir(), 'kanary-image-kube-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  chmodSync(dir, 0o755);
  const src = readFileSync(files(clusterConfig()).kubeconfig, 'utf8');
  const caFile = /certificate-authority: "?([^"\n]+)"?/.exec(src)?.[1];
  assert.ok(caFile, 'the cluster kubeconfig names its CA file');
  const ca = readFileSync(caFile).toString('base64');
  const out = src.replace(/certificate-authority: .*/, `certificate-authority-data: ${ca}`);
  writeFileSync(join(dir, 'kubeconfig'), out, { mode: 0o644 });
  return dir;
}

describe('the container image', { skip: why }, () => {
  before(
    () => {
      // progress of a cold build goes to the test's output (stderr); the name is the last stdout line
      const res = spawnSync('bash', [join(ROOT, 'scripts', 'build-image.sh')], {
        cwd: ROOT,
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'inherit'],
        timeout: 25 * 60_000,
      });
      assert.equal(res.status, 0, `scripts/build-image.sh failed (exit ${res.status})`);
      image = res.stdout.trim().split('\n').at(-1) ?? '';
      assert.match(image, /^localhost\/kanary:/);
    },
    { timeout: 30 * 60_000 },
  );

  it('runs kanary --version as the non-root user, from its own files', async (t) => {
    const ctr = buildahRun(
      t,
      `kanary-version-${process.pid}`,
      [],
      [
        'sh',
        '-c',
        'id -u; command -v kanary; kanary --version; nginx -v 2>&1; node --version; ' +
          // src/ compiled to JavaScript (no type stripping at run time), nothing of the TypeScript left
          'find /opt/kanary/src -name "*.ts" | wc -l; find /opt/kanary/src -name "*.js" | wc -l',
      ],
    );
    await ctr.exited;
    assert.equal(ctr.child.exitCode, 0, ctr.logs.join('\n'));
    const version = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).version;
    assert.deepEqual(ctr.logs.slice(0, 3), ['10001', '/opt/kanary/bin/kanary', version]);
    assert.match(ctr.logs[3] ?? '', /^nginx version: nginx\//);
    assert.match(ctr.logs[4] ?? '', /^v24\./);
    assert.equal(ctr.logs[5], '0', 'no .ts file in the image');
    assert.ok(Number(ctr.logs[6]) > 100, `compiled .js files: ${ctr.logs[6]}`);
  });

  it("carries the seed scenario with the image's controller and data plane", {
    timeout: 10 * 60_000,
  }, async (t) => {
    const ns = await testNamespace(t, 'image');
    const client = new KubeClient(ns.kc);
    const ros = rolloutApi(client, ns.name);
    const kube = readableKubeconfig(t);
    const mount = `${kube}:/etc/kanary:ro`;
    const cfg = '/etc/kanary/kubeconfig';
    const [healthPort, httpPort, httpsPort, metricsPort] = [
      await freePort(),
      await freePort(),
      await freePort(),
      await freePort(),
    ];
    const ctrl = buildahRun(
      t,
      `kanary-ctrl-${process.pid}`,
      [mount],
      [
        'kanary',
        'controller',
        '--kubeconfig',
        cfg,
        '--namespace',
        ns.name,
        '--health-port',
        String(healthPort),
      ],
    );
    const ing = buildahRun(
      t,
      `kanary-ing-${process.pid}`,
      [mount],
      [
        'kanary',
        'ingress',
        '--kubeconfig',
        cfg,
        '--namespace',
        ns.name,
        '--http-port',
        String(httpPort),
        '--https-port',
        String(httpsPort),
        '--metrics-port',
        String(metricsPort),
        '--state-dir',
        '/tmp/kanary-ingress',
        '--worker-processes',
        '1',
        '--min-reload-interval',
        '100ms',
      ],
    );
    const alive = (p: typeof ctrl, what: string) => {
      if (p.child.exitCode !== null || p.child.signalCode !== null)
        throw new Error(`${what} in the image exited:\n${p.logs.slice(-20).join('\n')}`);
    };
    const ok = async (url: string) => (await fetch(url).catch(() => undefined))?.ok;
    await waitUntil('the controller in the image to be ready', async () => {
      alive(ctrl, 'kanary controller');
      return ok(`http://127.0.0.1:${healthPort}/readyz`);
    });
    await waitUntil('the data plane in the image to be healthy', async () => {
      alive(ing, 'kanary ingress');
      return ok(`http://127.0.0.1:${metricsPort}/healthz`);
    });

    const manifests = tomozoManifests().map((m) =>
      m.kind === 'Rollout' ? { ...m, spec: { ...(m.spec as object), replicas: 4 } } : m,
    );
    await applyAll(client, ns.name, manifests);
    const healthy = await waitForRollout(ros, 'tomozo', 'Healthy', (r) => r.status?.phase === 'Healthy');

    /** versions of `n` answers through the image's nginx (Host tomozo.tokyo, a path of the seed's regex), or `status N` */
    const versions = (n: number, headers: Record<string, string> = {}) =>
      tally(httpPort, 'tomozo.tokyo', '/v1/tomozo/hello', n, headers, 4);
    let last: unknown;
    await waitUntil('0.0.1 served through the image’s nginx', async () => {
      alive(ing, 'kanary ingress');
      last = await versions(20).catch((err: Error) => err.message);
      return (last as Record<string, number>)['0.0.1'] === 20;
    }).catch((err: Error) => {
      throw new Error(
        `${err.message}; answers ${JSON.stringify(last)}\ningress log:\n${ing.logs.slice(-15).join('\n')}`,
      );
    });

    await ros.setImage('tomozo', 'tomozo', 'tomozo-repo/tomozo:0.0.2');
    const paused = await waitForRollout(
      ros,
      'tomozo',
      'paused at 10%',
      (r) => r.status?.phase === 'Paused' && r.status.currentStepIndex === 1,
    );
    assert.equal(paused.status?.canary?.weights?.canary.weight, 10);
    // the header rule of the seed sends X-Canary: true to the canary, whatever the weight
    await waitUntil('the canary header rule served by the image’s nginx', async () => {
      const v = await versions(10, { 'x-canary': 'true' });
      return v['0.0.2'] === 10;
    });
    const split = await versions(400);
    assert.deepEqual(Object.keys(split).sort(), ['0.0.1', '0.0.2'], JSON.stringify(split));
    // 10% of 400: binomial, 3 standard deviations ≈ 18
    assert.ok(Math.abs((split['0.0.2'] ?? 0) - 40) <= 18, `canary share ${JSON.stringify(split)}`);

    await ros.promote('tomozo');
    const promoted = await waitForRollout(
      ros,
      'tomozo',
      'Healthy on 0.0.2',
      (r) => r.status?.phase === 'Healthy' && r.status.stableRS === paused.status?.currentPodHash,
      120_000,
    );
    assert.notEqual(promoted.status?.stableRS, healthy.status?.stableRS);
    await waitUntil('all traffic on 0.0.2', async () => (await versions(20))['0.0.2'] === 20);
    const canaryIng = await client.get<{ metadata: { annotations?: Record<string, string> } }>(
      resourcePath(RESOURCES.ingresses, ns.name, 'tomozo-tomozo-canary'),
    );
    assert.equal(canaryIng.metadata.annotations?.['nginx.ingress.kubernetes.io/canary-weight'], '0');
    alive(ctrl, 'kanary controller');
    alive(ing, 'kanary ingress');
    // as the non-root user nginx -t must work too (its regex check once failed on /run/nginx.pid)
    assert.deepEqual(
      ing.logs.filter((l) => /"level":(40|50|60)/.test(l)),
      [],
      'the data plane in the image logged no warning or error',
    );
  });
});
