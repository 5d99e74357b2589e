/**
 * Differential test against the real Argo Rollouts: the seed scenario
 * (examples/tomozo) runs at the same time under the real Argo Rollouts
 * controller (built by hack/argo/build.sh) in one namespace and under Kanary's
 * controller in another; both are driven by the real `kubectl-argo-rollouts`
 * and stopped at the same points. At each point the objects are normalised
 * (test/support/parity.ts says what is dropped and why) and compared; every
 * difference fails unless docs/controller.md lists it under "Deliberate
 * differences from Argo Rollouts".
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { before, it, type TestContext } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { KubeClient, RESOURCES, type ResourceType, resourcePath } from '../../../src/kube/client.ts';
import {
  type ArgoBinaries,
  type ArgoController,
  argoBinaries,
  argoPluginOk,
  installArgoCrds,
  startArgoController,
} from '../../support/argo.ts';
import { type TestNamespace, testKubeConfig, testNamespace, waitUntil } from '../../support/cluster.ts';
import { type ControllerProcess, startController } from '../../support/controller.ts';
import {
  countReasons,
  type Difference,
  diff,
  type EventObj,
  eventCounts,
  eventReasons,
  excused,
  type Flat,
  formatDifferences,
  hashDifferences,
  hashesByRevision,
  type KubeObj,
  normalise,
  normaliseGet,
  type Observed,
  REVISION_ANNOTATION,
  readDeliberate,
} from '../../support/parity.ts';
import { applyAll, tomozoManifests } from '../../support/scenario.ts';
import { kanary as kanaryCli } from '../cli/support.ts';

const ROOT = join(import.meta.dirname, '..', '..', '..');
const DOC = join(ROOT, 'docs', 'controller.md');
const NAME = 'tomozo';
const REPLICAS = 10; // the seed manifest's

let bins: ArgoBinaries;

before(
  async () => {
    bins = await argoBinaries();
    await installArgoCrds(new KubeClient(testKubeConfig()), bins.crdDir);
  },
  { timeout: 60 * 60_000 }, // a cold build compiles Argo Rollouts (see docs/benchmarks.md)
);

interface Side {
  name: 'argo' | 'kanary';
  ns: TestNamespace;
  client: KubeClient;
  /** Kanary: the Events' counts at the previous stopping point; Argo: how many it had recorded */
  eventsBefore: Map<string, number>;
  recordedBefore: number;
}

interface Status {
  phase?: string;
  abort?: boolean;
  currentStepIndex?: number;
  currentPodHash?: string;
  stableRS?: string;
  availableReplicas?: number;
  updatedReplicas?: number;
}

type Seen = Observed & { events: EventObj[] };

async function observe(s: Side): Promise<Seen> {
  const list = async (r: ResourceType) =>
    (await s.client.get<{ items: KubeObj[] }>(resourcePath(r, s.ns.name))).items;
  const [rollout, replicaSets, services, ingresses, events] = await Promise.all([
    s.client.get<KubeObj>(resourcePath(RESOURCES.rollouts, s.ns.name, NAME)),
    list(RESOURCES.replicasets),
    list(RESOURCES.services),
    list(RESOURCES.ingresses),
    list(RESOURCES.events) as unknown as Promise<EventObj[]>,
  ]);
  return { rollout, replicaSets, services, ingresses, events };
}

const statusOf = (o: Observed) => (o.rollout.status ?? {}) as Status;
const revisionOf = (o: Observed) => o.rollout.metadata.annotations?.[REVISION_ANNOTATION];
const rsOfRevision = (o: Observed, rev: string) =>
  o.replicaSets.find((rs) => rs.metadata.annotations?.[REVISION_ANNOTATION] === rev);

/** The stopping points: what each side must show before the two are compared. */
const healthyAt = (rev: string) => (o: Observed) => {
  const s = statusOf(o);
  return (
    s.phase === 'Healthy' &&
    revisionOf(o) === rev &&
    s.stableRS === s.currentPodHash &&
    s.availableReplicas === REPLICAS
  );
};
const pausedAtStep1 = (rev: string) => (o: Observed) => {
  const s = statusOf(o);
  return s.phase === 'Paused' && s.currentStepIndex === 1 && revisionOf(o) === rev && !s.abort;
};
const aborted = (o: Observed) => statusOf(o).phase === 'Degraded' && statusOf(o).abort === true;
const scaledDown = (rev: string) => (o: Observed) =>
  (rsOfRevision(o, rev)?.spec as { replicas?: number } | undefined)?.replicas === 0;

it('the tomozo canary leaves the same objects under the real Argo Rollouts and under Kanary', async (t: TestContext) => {
  const deliberate = readDeliberate(DOC);
  const dir = mkdtempSync(join(tmpdir(), 'kanary-parity-'));
  const [argoNs, kanaryNs] = await Promise.all([
    testNamespace(t, 'parity-argo'),
    testNamespace(t, 'parity-kanary'),
  ]);
  const side = (name: Side['name'], ns: TestNamespace): Side => ({
    name,
    ns,
    client: new KubeClient(ns.kc),
    eventsBefore: new Map(),
    recordedBefore: 0,
  });
  const sides = [side('argo', argoNs), side('kanary', kanaryNs)];
  let argo: ArgoController | undefined;
  let kanary: ControllerProcess | undefined;
  const found: Difference[] = [];
  const cliDiffs: string[] = [];
  const hashes: Record<Side['name'], Record<string, string>> = { argo: {}, kanary: {} };
  const started = Date.now();
  let step = 0;
  /** What each controller recorded since the previous stopping point (see parity.ts on why Argo's come from its log). */
  const eventsSince = (s: Side, o: Seen) =>
    s.name === 'argo'
      ? countReasons(argo?.recorded.slice(s.recordedBefore) ?? [])
      : eventReasons(o.events, s.eventsBefore);
  const elapsed = () => `${((Date.now() - started) / 1000).toFixed(1)}s`;

  /** Waits until both sides reached `ready`, then until their objects settle, and compares them. */
  async function checkpoint(point: string, ready: (o: Observed) => boolean) {
    await Promise.all(
      sides.map((s) =>
        waitUntil(`${s.name} (${s.ns.name}): ${point}`, async () => ready(await observe(s)), 90_000).catch(
          async (err) => {
            const o = await observe(s).catch(() => undefined);
            throw new Error(`${(err as Error).message}\nlast status: ${JSON.stringify(o?.rollout.status)}`);
          },
        ),
      ),
    );
    // Settled: equal (apart from deliberate differences), or both unchanged for 3 s.
    let last: Flat[] = [];
    let lastObs: Seen[] = [];
    let unchangedSince = Date.now();
    const deadline = Date.now() + 20_000;
    for (;;) {
      const obs = await Promise.all(sides.map(observe));
      const flats = obs.map((o, i) => normalise(o, eventsSince(sides[i]!, o)));
      if (last.length && JSON.stringify(flats) !== JSON.stringify(last)) unchangedSince = Date.now();
      last = flats;
      lastObs = obs;
      const open = diff(flats[0]!, flats[1]!).filter((d) => !excused(d, deliberate));
      if (!obs.every(ready))
        unchangedSince = Date.now(); // a side moved on; keep waiting
      else if (open.length === 0 || Date.now() - unchangedSince >= 3_000 || Date.now() > deadline) break;
      await sleep(500);
    }
    found.push(...diff(last[0]!, last[1]!, `${point}/`));
    step++;
    lastObs.forEach((o, i) => {
      const s = sides[i]!;
      writeFileSync(
        join(dir, `${step}-${point}.${s.name}.json`),
        `${JSON.stringify(Object.fromEntries(Object.entries(last[i]!).sort()), null, 1)}\n`,
      );
      s.eventsBefore = eventCounts(o.events);
      s.recordedBefore = argo?.recorded.length ?? 0;
      Object.assign(hashes[s.name], hashesByRevision(o.replicaSets));
    });
    // Kanary's CLI shows the real Argo's objects as Argo's plugin does
    const [theirs, ours] = await Promise.all([
      argoPluginOk(bins, argoNs.name, ['get', 'rollout', NAME, '--no-color']),
      kanaryCli(['get', 'rollout', NAME, '-n', argoNs.name]),
    ]);
    if (
      ours.code !== 0 ||
      JSON.stringify(normaliseGet(ours.stdout)) !== JSON.stringify(normaliseGet(theirs))
    ) {
      cliDiffs.push(
        `${point}:\n--- kubectl-argo-rollouts get rollout ---\n${theirs}--- kanary get rollout ---\n${ours.stdout}${ours.stderr}`,
      );
    }
    t.diagnostic(`${elapsed()} ${point}: compared`);
  }

  const plugin = (args: string[]) => Promise.all(sides.map((s) => argoPluginOk(bins, s.ns.name, args)));

  try {
    [argo, kanary] = await Promise.all([
      startArgoController(t, bins, argoNs.name, join(dir, 'argo-controller.log')),
      startController(t, kanaryNs.name),
    ]);
    await Promise.all(sides.map((s) => applyAll(s.client, s.ns.name, tomozoManifests())));
    await checkpoint('healthy', healthyAt('1'));

    await plugin(['set', 'image', NAME, `${NAME}=tomozo-repo/tomozo:0.0.2`]);
    await checkpoint('paused', pausedAtStep1('2'));

    await plugin(['promote', NAME]);
    await checkpoint('promoted', healthyAt('2'));
    await checkpoint('old-scaled-down', scaledDown('1')); // after the default 30 s scaleDownDelaySeconds

    await plugin(['set', 'image', NAME, `${NAME}=tomozo-repo/tomozo:0.0.3`]);
    await checkpoint('paused-again', pausedAtStep1('3'));

    await plugin(['abort', NAME]);
    await checkpoint('aborted', aborted);

    await plugin(['retry', 'rollout', NAME]);
    await checkpoint('retried', pausedAtStep1('3'));

    await plugin(['promote', NAME, '--full']);
    await checkpoint('promoted-full', healthyAt('3'));

    const inCluster = (await observe(sides[0]!)).events
      .filter((e) => e.involvedObject.kind === 'Rollout')
      .reduce((n, e) => n + (e.count ?? 1), 0);
    t.diagnostic(`Argo recorded ${argo.recorded.length} Events; ${inCluster} reached the cluster`);
    const hashDiffs = hashDifferences(hashes.argo, hashes.kanary);
    const open = found.filter((d) => !excused(d, deliberate));
    const known = found.filter((d) => excused(d, deliberate));
    for (const d of known) t.diagnostic(`deliberate: ${d.path} (argo ${d.argo}, kanary ${d.kanary})`);
    const report = [
      open.length
        ? `${open.length} difference(s) not listed under "Deliberate differences from Argo Rollouts" in docs/controller.md:\n${formatDifferences(open)}`
        : '',
      hashDiffs.length
        ? `pod-template hashes differ (Kanary must compute Argo's hash byte for byte; ReplicaSet names, selectors and labels follow it):\n${hashDiffs
            .map((d) => `  ${d.path}: argo ${NAME}-${d.argo}, kanary ${NAME}-${d.kanary}`)
            .join('\n')}`
        : '',
      cliDiffs.length
        ? `kanary get rollout differs from kubectl-argo-rollouts get rollout on the real Argo's Rollout:\n${cliDiffs.join('\n')}`
        : '',
    ]
      .filter(Boolean)
      .join('\n\n');
    assert.equal(open.length + hashDiffs.length + cliDiffs.length, 0, report);
    rmSync(dir, { recursive: true, force: true });
  } catch (err) {
    process.stderr.write(
      `\n--- normalised objects at each stopping point: ${dir} ---` +
        `\n--- Argo Rollouts controller log (${argo?.logFile ?? dir}), last lines ---\n${argo?.tail(80) ?? '(not started)'}\n` +
        `--- Kanary controller log, last lines ---\n${kanary?.logs.slice(-40).join('\n') ?? '(not started)'}\n`,
    );
    throw err;
  }
});
