/** get rollout, list rollouts and status against live objects (ReplicaSets and pods made by the cluster). */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { before, describe, it, type TestContext } from 'node:test';
import { stripVTControlCharacters } from 'node:util';
import type { Pod, ReplicaSet, Rollout } from '../../../src/client/types.ts';
import { RESOURCES, resourcePath } from '../../../src/kube/client.ts';
import { testNamespace, waitUntil } from '../../support/cluster.ts';
import {
  Api,
  canaryRollout,
  ensureRolloutCrd,
  KUBECONFIG,
  kanary,
  pausedAtStepStatus,
  ROOT,
  startKanary,
} from './support.ts';

before(ensureRolloutCrd);

/**
 * A ReplicaSet of the Rollout with `replicas` running pods, as the Rollout's
 * controller and the cluster's ReplicaSet controller would leave them. The
 * pods are made here and handed to the ReplicaSet (as its controller would
 * adopt them), and its status is written here too: the shared cluster's
 * ReplicaSet controller sometimes backs off for minutes after stale-cache
 * errors, and these tests are about what the CLI shows, not about it.
 */
async function replicaSet(
  api: Api,
  ro: Rollout,
  hash: string,
  revision: number,
  image: string,
  replicas: number,
) {
  const name = ro.metadata.name ?? '';
  const rsName = `${name}-${hash}`;
  const labels = { app: name, 'rollouts-pod-template-hash': hash };
  const podSpec = { containers: [{ name: 'web', image }] };
  const pods = resourcePath(RESOURCES.pods, api.namespace);
  for (let i = 0; i < replicas; i++) {
    await api.client.create(pods, { metadata: { name: `${rsName}-${i}`, labels }, spec: podSpec });
  }
  const rs = await api.client.create<ReplicaSet>(resourcePath(RESOURCES.replicasets, api.namespace), {
    apiVersion: 'apps/v1',
    kind: 'ReplicaSet',
    metadata: {
      name: rsName,
      labels,
      annotations: { 'rollout.argoproj.io/revision': String(revision) },
      ownerReferences: [
        { apiVersion: 'argoproj.io/v1alpha1', kind: 'Rollout', name, uid: ro.metadata.uid, controller: true },
      ],
    },
    spec: { replicas, selector: { matchLabels: labels }, template: { metadata: { labels }, spec: podSpec } },
  });
  const owner = {
    apiVersion: 'apps/v1',
    kind: 'ReplicaSet',
    name: rsName,
    uid: rs.metadata.uid,
    controller: true,
    blockOwnerDeletion: true,
  };
  for (let i = 0; i < replicas; i++) {
    // the cluster's ReplicaSet controller may have made pods of its own before it saw ours and
    // deleted one of ours as a surplus (seen once in a CI run): then its pod stands in for it
    await api.client
      .patch(`${pods}/${rsName}-${i}`, { metadata: { ownerReferences: [owner] } })
      .catch((err: { code?: number }) => {
        if (err.code !== 404) throw err;
      });
  }
  await waitUntil(
    `pods of ${rsName} ready`,
    async () => {
      const list = await api.client.get<{ items: Pod[] }>(pods, {
        labelSelector: `rollouts-pod-template-hash=${hash}`,
      });
      const ready = list.items.filter((p) => {
        const statuses = p.status?.containerStatuses ?? [];
        return statuses.length > 0 && statuses.every((c) => c.ready);
      });
      return ready.length === replicas;
      // the shared cluster's pod runtime can take minutes to report readiness when other suites load it
    },
    240_000,
  );
  await api.client.patch(`${resourcePath(RESOURCES.replicasets, api.namespace, rsName)}/status`, {
    status: {
      replicas,
      readyReplicas: replicas,
      availableReplicas: replicas,
      fullyLabeledReplicas: replicas,
      observedGeneration: rs.metadata.generation,
    },
  });
}

/** A canary paused at its pause step, with a stable ReplicaSet of 2 pods and a canary one of 1, all running. */
async function pausedCanary(t: TestContext, prefix: string): Promise<{ api: Api; ns: string }> {
  const ns = await testNamespace(t, prefix);
  const api = new Api(ns.name);
  const ro = await api.createWithStatus(canaryRollout('web', ns.name, 'example/app:2'), pausedAtStepStatus());
  await replicaSet(api, ro, 'oldhash', 1, 'example/app:1', 2);
  await replicaSet(api, ro, 'newhash', 2, 'example/app:2', 1);
  return { api, ns: ns.name };
}

describe('get rollout on a live cluster', () => {
  it('shows the summary and the revision → ReplicaSet → pod tree', async (t) => {
    const { ns } = await pausedCanary(t, 'cliget');
    const res = await kanary(['get', 'rollout', 'web', '-n', ns]);
    assert.equal(res.stderr, '');
    assert.equal(res.code, 0);
    const out = res.stdout;
    const summary = [
      'Name:            web',
      `Namespace:       ${ns}`,
      'Status:          ॥ Paused',
      'Message:         CanaryPauseStep',
      'Strategy:        Canary',
      '  Step:          1/4',
      '  SetWeight:     20',
      '  ActualWeight:  33',
      'Images:          example/app:1 (stable)',
      '                 example/app:2 (canary)',
      'Replicas:',
      '  Desired:       2',
      '  Current:       3',
      '  Updated:       1',
      '  Ready:         3',
      '  Available:     3',
      '',
    ].join('\n');
    assert.equal(out.slice(0, summary.length), summary);
    // a blank line, then the tree
    const tree = out.slice(summary.length + 1).split('\n');
    assert.equal(out[summary.length], '\n');
    assert.match(tree[0] ?? '', /^NAME +KIND +STATUS +AGE +INFO$/);
    assert.match(tree[1] ?? '', /^⟳ web +Rollout +॥ Paused +\d+s$/);
    assert.match(tree[2] ?? '', /^├──# revision:2$/);
    assert.match(tree[3] ?? '', /^│ {2}└──⧉ web-newhash +ReplicaSet +✔ Healthy +\d+s +canary$/);
    assert.match(tree[4] ?? '', /^│ {5}└──□ web-newhash-\w+ +Pod +✔ Running +\d+s +ready:1\/1$/);
    assert.match(tree[5] ?? '', /^└──# revision:1$/);
    assert.match(tree[6] ?? '', /^ {3}└──⧉ web-oldhash +ReplicaSet +✔ Healthy +\d+s +stable$/);
    assert.match(tree[7] ?? '', /^ {6}├──□ web-oldhash-\w+ +Pod +✔ Running +\d+s +ready:1\/1$/);
    assert.match(tree[8] ?? '', /^ {6}└──□ web-oldhash-\w+ +Pod +✔ Running +\d+s +ready:1\/1$/);
    assert.equal(tree.length, 10);
  });

  it('-o json gives the same information as data', async (t) => {
    const { ns } = await pausedCanary(t, 'cligetjson');
    const res = await kanary(['get', 'rollout', 'web', '-n', ns, '-o', 'json']);
    const doc = JSON.parse(res.stdout) as {
      status: string;
      step: string;
      images: { image: string; tags: string[] }[];
      replicaSets: { name: string; canary: boolean; pods: { status: string }[] }[];
    };
    assert.equal(doc.status, 'Paused');
    assert.equal(doc.step, '1/4');
    assert.deepEqual(doc.images, [
      { image: 'example/app:1', tags: ['stable'] },
      { image: 'example/app:2', tags: ['canary'] },
    ]);
    assert.deepEqual(
      doc.replicaSets.map((r) => [r.name, r.canary, r.pods.map((p) => p.status)]),
      [
        ['web-newhash', true, ['Running']],
        ['web-oldhash', false, ['Running', 'Running']],
      ],
    );
    const yaml = await kanary(['get', 'rollout', 'web', '-n', ns, '-o', 'yaml']);
    assert.match(yaml.stdout, /^name: web\n/);
  });
});

describe('list rollouts on a live cluster', () => {
  it('lists one namespace, or all with -A', async (t) => {
    const ns = await testNamespace(t, 'clilist');
    const api = new Api(ns.name);
    await api.createWithStatus(canaryRollout('web', ns.name), pausedAtStepStatus());
    await api.create(canaryRollout('api', ns.name));
    const res = await kanary(['list', 'rollouts', '-n', ns.name]);
    assert.equal(res.code, 0);
    assert.equal(
      res.stdout,
      'NAME        STRATEGY   STATUS        STEP  SET-WEIGHT  READY  DESIRED  UP-TO-DATE  AVAILABLE\n' +
        'api         Canary     Progressing   -     20          0/0    2        0           0\n' +
        'web         Canary     Paused        1/4   20          3/3    2        1           3\n',
    );
    const all = await kanary(['list', 'rollouts', '-A']);
    assert.match(all.stdout, /^NAMESPACE +NAME +STRATEGY/);
    assert.match(all.stdout, new RegExp(`\n${ns.name} +web +Canary +Paused +1/4 +20 +3/3 +2 +1 +3\n`));
    const empty = await kanary(['list', 'rollouts', '-n', `${ns.name}-none`]);
    assert.equal(empty.stdout, '');
    assert.equal(empty.stderr, `No resources found in namespace "${ns.name}-none".\n`);
  });

  it('--watch prints a line when a rollout changes', async (t) => {
    const ns = await testNamespace(t, 'clilistw');
    const api = new Api(ns.name);
    await api.createWithStatus(canaryRollout('web', ns.name), pausedAtStepStatus());
    const child = spawn(
      process.execPath,
      [join(ROOT, 'bin', 'kanary.js'), 'list', 'rollouts', '-w', '-n', ns.name, '--kubeconfig', KUBECONFIG],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    t.after(() => child.kill('SIGKILL'));
    let out = '';
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
    });
    await waitUntil('table', async () => out.includes('Paused'), 20_000);
    await api.mergePatch(
      'web',
      { status: { currentStepIndex: 2, pauseConditions: null, phase: 'Progressing' } },
      'status',
    );
    await waitUntil('changed line', async () => /\nweb +Canary +Progressing +2\/4 +50 /.test(out), 20_000);
    const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
    child.kill('SIGINT');
    assert.equal(await exited, 0);
  });
});

describe('status for CI pipelines', () => {
  async function rollout(t: TestContext, status: Rollout['status']): Promise<{ api: Api; ns: string }> {
    const ns = await testNamespace(t, 'clistatus');
    const api = new Api(ns.name);
    await api.createWithStatus(canaryRollout('web', ns.name), status);
    return { api, ns: ns.name };
  }

  it('exits 0 when Healthy', async (t) => {
    const { ns } = await rollout(t, { phase: 'Healthy', message: '' });
    const res = await kanary(['status', 'web', '-n', ns]);
    assert.deepEqual([res.code, res.stdout, res.stderr], [0, 'Healthy\n', '']);
  });

  it('exits 1 with the reason when Degraded (aborted)', async (t) => {
    const message = 'RolloutAborted: Rollout aborted update to revision 2';
    const { ns } = await rollout(t, { phase: 'Degraded', message, abort: true });
    const res = await kanary(['status', 'web', '-n', ns]);
    assert.equal(res.code, 1);
    assert.equal(res.stdout, `Degraded - ${message}\n`);
    assert.equal(res.stderr, `error: The rollout is in a degraded state with message: ${message}\n`);
  });

  it('exits 2 when the timeout passes, naming the last status', async (t) => {
    const { ns } = await rollout(t, pausedAtStepStatus());
    const started = Date.now();
    const res = await kanary(['status', 'web', '-n', ns, '--timeout', '2s']);
    assert.equal(res.code, 2);
    assert.ok(Date.now() - started >= 2000);
    assert.equal(res.stdout, 'Paused - CanaryPauseStep\n');
    assert.equal(
      res.stderr,
      'error: Rollout status watch exceeded timeout\nhint: last status: Paused - CanaryPauseStep\n',
    );
  });

  it('--paused-ok ends the wait at a pause with exit 0', async (t) => {
    const { ns } = await rollout(t, pausedAtStepStatus());
    const res = await kanary(['status', 'web', '-n', ns, '--paused-ok']);
    assert.equal(res.code, 0);
    assert.equal(res.stdout, 'Paused - CanaryPauseStep\n');
    assert.match(
      res.stderr,
      /rollout 'web' is paused \(CanaryPauseStep\); continue it with: kanary promote web/,
    );
  });

  it('--watch=false prints the status once', async (t) => {
    const { ns } = await rollout(t, pausedAtStepStatus());
    const res = await kanary(['status', 'web', '-n', ns, '--watch=false']);
    assert.deepEqual([res.code, res.stdout], [0, 'Paused - CanaryPauseStep\n']);
  });

  it('follows the rollout until it becomes Healthy', async (t) => {
    const { api, ns } = await rollout(t, pausedAtStepStatus());
    const running = startKanary(['status', 'web', '-n', ns, '--timeout', '60s']);
    t.after(() => running.child.kill('SIGKILL'));
    await waitUntil(
      'first status line',
      async () => running.stdout().includes('Paused - CanaryPauseStep\n'),
      20_000,
    );
    await api.mergePatch(
      'web',
      {
        status: {
          phase: 'Progressing',
          message: 'more replicas need to be updated',
          pauseConditions: null,
          controllerPause: false,
        },
      },
      'status',
    );
    await waitUntil('second status line', async () => running.stdout().includes('Progressing'), 20_000);
    await api.mergePatch('web', { status: { phase: 'Healthy', message: '' } }, 'status');
    const res = await running.done;
    assert.equal(res.code, 0);
    assert.equal(
      res.stdout,
      'Paused - CanaryPauseStep\nProgressing - more replicas need to be updated\nHealthy\n',
    );
  });
});

describe('get rollout --watch in a terminal', () => {
  it('redraws in place when a promote moves the rollout on, and stops cleanly on Ctrl-C', async (t) => {
    const { api, ns } = await pausedCanary(t, 'cliwatch');
    const command = [
      process.execPath,
      join(ROOT, 'bin', 'kanary.js'),
      'get',
      'rollout',
      'web',
      '--watch',
      '-n',
      ns,
      '--kubeconfig',
      KUBECONFIG,
    ]
      .map((a) => `'${a}'`)
      .join(' ');
    // script(1) gives the CLI a pseudo-terminal, so it takes its interactive path. `exec` replaces
    // script's `sh -c` with the CLI: otherwise Ctrl-C also reaches the shell, and whether a shell
    // waiting for a child survives SIGINT is the shell's business (dash once exited 130 under load)
    const child = spawn('script', ['-qfec', `exec ${command}`, '/dev/null'], {
      env: { ...process.env, TERM: 'xterm-256color', NO_COLOR: undefined },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    t.after(() => child.kill('SIGKILL'));
    let raw = '';
    child.stdout.on('data', (d: Buffer) => {
      raw += d.toString();
    });
    const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
    // the latest frame: what the terminal shows now
    const screen = () =>
      stripVTControlCharacters(raw.slice(raw.lastIndexOf('\u001b[H'))).replaceAll('\r', '');

    await waitUntil('first frame', async () => /Step: +1\/4/.test(screen()), 20_000);
    assert.ok(raw.includes('\u001b[?25l'), 'hides the cursor while drawing');
    assert.match(screen(), /Status: +॥ Paused/);

    const promote = await kanary(['promote', 'web', '-n', ns]);
    assert.equal(promote.code, 0);
    await waitUntil(
      'promote seen',
      async () => /Status: +◌ Progressing\nMessage: +waiting for rollout to unpause/.test(screen()),
      20_000,
    );

    // what the controller does next: complete the pause step and move to the next one
    await api.mergePatch(
      'web',
      {
        status: {
          controllerPause: false,
          currentStepIndex: 2,
          phase: 'Progressing',
          message: 'more replicas need to be updated',
        },
      },
      'status',
    );
    await waitUntil('next step drawn', async () => /Step: +2\/4\n +SetWeight: +50/.test(screen()), 20_000);

    child.stdin.write('\u0003');
    const code = await exited;
    assert.equal(code, 0, `exit code ${code} after Ctrl-C; the terminal showed:\n${screen()}`);
    assert.ok(raw.endsWith('\u001b[?25h') || raw.includes('\u001b[?25h'), 'shows the cursor again');
  });
});
