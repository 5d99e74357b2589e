/**
 * Every command that changes a Rollout, run on a live cluster. Each test makes
 * two identical Rollouts: the CLI changes one, and the other is changed by hand
 * with the patches `kubectl argo rollouts` documents (argo-rollouts.md §11.1).
 * Both must end in the same state, so Kanary and the upstream CLI (and Argo CD,
 * where it has the same action) can drive the same Rollout.
 */
import assert from 'node:assert/strict';
import { before, describe, it, type TestContext } from 'node:test';
import type { ReplicaSet, Rollout } from '../../../src/client/types.ts';
import { RESOURCES, resourcePath } from '../../../src/kube/client.ts';
import { actionPatches } from '../../support/argocd-lua.ts';
import { testNamespace } from '../../support/cluster.ts';
import { Api, canaryRollout, ensureRolloutCrd, kanary, pausedAtStepStatus, state } from './support.ts';

before(ensureRolloutCrd);

interface Twins {
  api: Api;
  ns: string;
  viaCli: string;
  byHand: string;
}

async function twins(
  t: TestContext,
  status: Rollout['status'],
  edit: (ro: Rollout) => void = () => {},
): Promise<Twins> {
  const ns = await testNamespace(t, 'cli');
  const api = new Api(ns.name);
  for (const name of ['via-cli', 'by-hand']) {
    const ro = canaryRollout(name, ns.name);
    edit(ro);
    await api.createWithStatus(ro, status);
  }
  return { api, ns: ns.name, viaCli: 'via-cli', byHand: 'by-hand' };
}

async function assertSameState(tw: Twins): Promise<Rollout> {
  const [a, b] = await Promise.all([tw.api.get(tw.viaCli), tw.api.get(tw.byHand)]);
  assert.deepEqual(state(a), state(b));
  return a;
}

async function ok(args: string[], expectedOut: string): Promise<void> {
  const res = await kanary(args);
  assert.equal(res.stderr, '');
  assert.equal(res.code, 0);
  assert.equal(res.stdout, expectedOut);
}

describe('commands that change a Rollout patch it as kubectl argo rollouts does', () => {
  it('promote: a rollout paused by the controller at a pause step', async (t) => {
    const tw = await twins(t, pausedAtStepStatus());
    await ok(['promote', tw.viaCli, '-n', tw.ns], "rollout 'via-cli' promoted\n");
    await tw.api.mergePatch(tw.byHand, { status: { pauseConditions: null } }, 'status');
    const after = await assertSameState(tw);
    assert.equal(after.status?.pauseConditions, undefined);
    assert.equal(after.status?.controllerPause, true, 'the controller, not the CLI, completes the step');
    assert.equal(after.status?.currentStepIndex, 1);
  });

  /** Runs Argo CD's own action.lua on the by-hand twin and sends its patches as Argo CD does. */
  async function argoCdAction(tw: Twins, action: string, now?: Date): Promise<void> {
    const patches = actionPatches(await tw.api.get(tw.byHand), action, now);
    assert.ok(patches.status || patches.main, `Argo CD's ${action} changes the Rollout`);
    if (patches.status) await tw.api.mergePatch(tw.byHand, patches.status, 'status');
    if (patches.main) await tw.api.mergePatch(tw.byHand, patches.main);
  }

  const argoCdCases: [string, string[], string, (ro: Rollout) => void][] = [
    ['promote', ['promote'], 'resume', () => {}],
    [
      'promote of a manually paused rollout',
      ['promote'],
      'resume',
      (ro) => {
        if (ro.spec) ro.spec.paused = true;
      },
    ],
    ['promote --full', ['promote', '--full'], 'promote-full', () => {}],
    ['abort', ['abort'], 'abort', () => {}],
    ['pause', ['pause'], 'pause', () => {}],
  ];
  for (const [name, args, action, edit] of argoCdCases) {
    it(`${name} ends in the same state as Argo CD's ${action} action (its action.lua)`, async (t) => {
      const tw = await twins(t, pausedAtStepStatus(), edit);
      const res = await kanary([args[0] ?? '', tw.viaCli, ...args.slice(1), '-n', tw.ns]);
      assert.equal(res.code, 0, res.stderr);
      await argoCdAction(tw, action);
      await assertSameState(tw);
    });
  }

  it("restart ends in the same state as Argo CD's restart action at the same second", async (t) => {
    const tw = await twins(t, pausedAtStepStatus());
    await ok(['restart', tw.viaCli, '-n', tw.ns], "rollout 'via-cli' restarts in 0s\n");
    const restartAt = (await tw.api.get(tw.viaCli)).spec?.restartAt ?? '';
    await argoCdAction(tw, 'restart', new Date(restartAt));
    await assertSameState(tw);
  });

  it("retry rollout and Argo CD's retry both clear the abort; the CLI writes false, Argo CD removes it", async (t) => {
    const tw = await twins(t, { ...pausedAtStepStatus(), abort: true });
    await ok(['retry', 'rollout', tw.viaCli, '-n', tw.ns], "rollout 'via-cli' retried\n");
    await argoCdAction(tw, 'retry');
    const [a, b] = await Promise.all([tw.api.get(tw.viaCli), tw.api.get(tw.byHand)]);
    assert.equal(a.status?.abort, false);
    assert.equal(b.status?.abort, undefined);
    const { abort: _a, ...restA } = a.status ?? {};
    const { abort: _b, ...restB } = b.status ?? {};
    assert.deepEqual(state({ ...a, status: restA }), state({ ...b, status: restB }));
  });

  it('promote: a canary running a step (no pause) skips to the next step', async (t) => {
    const status = { ...pausedAtStepStatus(), phase: 'Progressing', message: '', currentStepIndex: 2 };
    status.pauseConditions = undefined;
    status.controllerPause = undefined;
    const tw = await twins(t, status);
    await ok(['promote', tw.viaCli, '-n', tw.ns], "rollout 'via-cli' promoted\n");
    await tw.api.mergePatch(tw.byHand, { status: { pauseConditions: null, currentStepIndex: 3 } }, 'status');
    assert.equal((await assertSameState(tw)).status?.currentStepIndex, 3);
  });

  it('promote: a manually paused rollout is unpaused', async (t) => {
    const tw = await twins(t, pausedAtStepStatus(), (ro) => {
      if (ro.spec) ro.spec.paused = true;
    });
    await ok(['promote', tw.viaCli, '-n', tw.ns], "rollout 'via-cli' promoted\n");
    await tw.api.mergePatch(tw.byHand, { status: { pauseConditions: null } }, 'status');
    await tw.api.mergePatch(tw.byHand, { spec: { paused: false } });
    assert.equal((await assertSameState(tw)).spec?.paused, false);
  });

  it('promote --full sets status.promoteFull', async (t) => {
    const tw = await twins(t, pausedAtStepStatus());
    await ok(['promote', tw.viaCli, '--full', '-n', tw.ns], "rollout 'via-cli' fully promoted\n");
    await tw.api.mergePatch(tw.byHand, { status: { promoteFull: true } }, 'status');
    assert.equal((await assertSameState(tw)).status?.promoteFull, true);
  });

  it('promote --full of a fully promoted rollout changes nothing', async (t) => {
    const tw = await twins(t, { ...pausedAtStepStatus(), stableRS: 'newhash' });
    const before = await tw.api.get(tw.viaCli);
    await ok(['promote', tw.viaCli, '--full', '-n', tw.ns], "rollout 'via-cli' fully promoted\n");
    assert.equal((await tw.api.get(tw.viaCli)).metadata.resourceVersion, before.metadata.resourceVersion);
  });

  it('abort sets status.abort', async (t) => {
    const tw = await twins(t, pausedAtStepStatus());
    await ok(['abort', tw.viaCli, '-n', tw.ns], "rollout 'via-cli' aborted\n");
    await tw.api.mergePatch(tw.byHand, { status: { abort: true } }, 'status');
    assert.equal((await assertSameState(tw)).status?.abort, true);
  });

  it('retry rollout clears status.abort', async (t) => {
    const tw = await twins(t, { ...pausedAtStepStatus(), abort: true });
    await ok(['retry', 'rollout', tw.viaCli, '-n', tw.ns], "rollout 'via-cli' retried\n");
    await tw.api.mergePatch(tw.byHand, { status: { abort: false } }, 'status');
    assert.equal((await assertSameState(tw)).status?.abort, false);
  });

  it('pause sets spec.paused', async (t) => {
    const tw = await twins(t, pausedAtStepStatus());
    await ok(['pause', tw.viaCli, '-n', tw.ns], "rollout 'via-cli' paused\n");
    await tw.api.mergePatch(tw.byHand, { spec: { paused: true } });
    assert.equal((await assertSameState(tw)).spec?.paused, true);
  });

  it('restart --in sets spec.restartAt that far ahead, in whole seconds', async (t) => {
    const tw = await twins(t, pausedAtStepStatus());
    const before = Date.now();
    await ok(['restart', tw.viaCli, '--in', '1h', '-n', tw.ns], "rollout 'via-cli' restarts in 1h\n");
    const restartAt = (await tw.api.get(tw.viaCli)).spec?.restartAt ?? '';
    assert.match(restartAt, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    const at = Date.parse(restartAt);
    assert.ok(at >= Math.floor(before / 1000) * 1000 + 3600_000 && at <= Date.now() + 3600_000, restartAt);
    await tw.api.mergePatch(tw.byHand, { spec: { restartAt } });
    await assertSameState(tw);
  });

  it('restart without --in restarts now', async (t) => {
    const tw = await twins(t, pausedAtStepStatus());
    await ok(['restart', tw.viaCli, '-n', tw.ns], "rollout 'via-cli' restarts in 0s\n");
    const at = Date.parse((await tw.api.get(tw.viaCli)).spec?.restartAt ?? '');
    assert.ok(Math.abs(at - Date.now()) < 10_000);
  });

  it('set image replaces the image of the named container', async (t) => {
    const tw = await twins(t, pausedAtStepStatus());
    await ok(
      ['set', 'image', tw.viaCli, 'web=example/app:2', '-n', tw.ns],
      'rollout "via-cli" image updated\n',
    );
    const byHand = await tw.api.get(tw.byHand);
    const container = byHand.spec?.template?.spec?.containers?.[0];
    assert.ok(container);
    container.image = 'example/app:2';
    await tw.api.replace(byHand);
    const after = await assertSameState(tw);
    assert.equal(after.spec?.template?.spec?.containers?.[0]?.image, 'example/app:2');
  });

  it('set image with an unknown container changes nothing and says why', async (t) => {
    const tw = await twins(t, pausedAtStepStatus());
    const before = await tw.api.get(tw.viaCli);
    const res = await kanary(['set', 'image', tw.viaCli, 'nope=example/app:2', '-n', tw.ns]);
    assert.equal(res.code, 1);
    assert.equal(res.stderr, 'error: unable to find container named "nope"\n');
    assert.equal((await tw.api.get(tw.viaCli)).metadata.resourceVersion, before.metadata.resourceVersion);
  });

  it('undo puts back the pod template of the previous revision', async (t) => {
    const tw = await twins(t, pausedAtStepStatus(), (ro) => {
      const c = ro.spec?.template?.spec?.containers?.[0];
      if (c) c.image = 'example/app:3';
    });
    for (const name of [tw.viaCli, tw.byHand]) await createRevisions(tw, name);
    await ok(['undo', tw.viaCli, '-n', tw.ns], "rollout 'via-cli' undo\n");
    // upstream's patch: the ReplicaSet template of revision 2 (as stored, with the API server's defaults)
    // without the hash label
    const rs = await tw.api.client.get<ReplicaSet>(
      resourcePath(RESOURCES.replicasets, tw.ns, `${tw.byHand}-hash2`),
    );
    const template = structuredClone(rs.spec?.template ?? {});
    delete template.metadata?.labels?.['rollouts-pod-template-hash'];
    await tw.api.jsonPatch(tw.byHand, [{ op: 'replace', path: '/spec/template', value: template }]);
    const after = await assertSameState(tw);
    assert.equal(after.spec?.template?.spec?.containers?.[0]?.image, 'example/app:2');
  });

  it('undo --to-revision picks that revision, and skips when the template already matches', async (t) => {
    const tw = await twins(t, pausedAtStepStatus(), (ro) => {
      const c = ro.spec?.template?.spec?.containers?.[0];
      if (c) c.image = 'example/app:3';
    });
    await createRevisions(tw, tw.viaCli);
    await ok(['undo', tw.viaCli, '--to-revision', '1', '-n', tw.ns], "rollout 'via-cli' undo\n");
    assert.equal((await tw.api.get(tw.viaCli)).spec?.template?.spec?.containers?.[0]?.image, 'example/app:1');
    await ok(
      ['undo', tw.viaCli, '--to-revision', '1', '-n', tw.ns],
      'skipped rollback (current template already matches revision 1)\n',
    );
    const missing = await kanary(['undo', tw.viaCli, '--to-revision', '9', '-n', tw.ns]);
    assert.equal(missing.code, 1);
    assert.equal(missing.stderr, 'error: unable to find specified revision 9 in history\n');
  });
});

/** ReplicaSets of revisions 1..3 (images app:1..3) owned by the Rollout, as its controller would have made them. */
async function createRevisions(tw: Twins, name: string): Promise<void> {
  const ro = await tw.api.get(name);
  for (const rev of [1, 2, 3]) {
    const hash = `hash${rev}`;
    const labels = { app: name, 'rollouts-pod-template-hash': hash };
    const rs: ReplicaSet = {
      apiVersion: 'apps/v1',
      kind: 'ReplicaSet',
      metadata: {
        name: `${name}-${hash}`,
        labels,
        annotations: { 'rollout.argoproj.io/revision': String(rev) },
        ownerReferences: [
          {
            apiVersion: 'argoproj.io/v1alpha1',
            kind: 'Rollout',
            name,
            uid: ro.metadata.uid,
            controller: true,
          },
        ],
      },
      spec: {
        replicas: 0,
        template: {
          metadata: { labels },
          spec: { containers: [{ name: 'web', image: `example/app:${rev}` }] },
        },
      },
    };
    (rs.spec as Record<string, unknown>).selector = { matchLabels: labels };
    await tw.api.client.create(resourcePath(RESOURCES.replicasets, tw.ns), rs);
  }
}
