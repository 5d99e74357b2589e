/**
 * `kanary playground --strategy bluegreen` (examples/bluegreen): a blue-green
 * Rollout behind two Ingresses, one for the active Service and one for the
 * preview Service. While the BlueGreenPause holds, real requests show the
 * active host serving only the old version and the preview host only the new
 * one; after `promote` both serve the new one and the old ReplicaSet is
 * scaled down after scaleDownDelaySeconds; with `--abort` the active host
 * stays on the old version and the preview ReplicaSet is scaled down. Steady
 * traffic on the active host runs through the switch and the scale-down and
 * must see no failed request.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { UserError } from '../cli/errors.ts';
import type { Manifest } from '../kube/apply.ts';
import { type KubeClient, MERGE_PATCH, RESOURCES, resourcePath } from '../kube/client.ts';
import { backgroundTraffic, setImage } from './analysis.ts';
import { type LiveOutput, progressBar } from './live.ts';
import { type BurstResult, burst } from './traffic.ts';

export const BLUEGREEN_NEW_IMAGE = 'argoproj/rollouts-demo:green';

export interface Route {
  ingress: string;
  host: string;
  path: string;
}

interface IngressManifest extends Manifest {
  spec?: {
    rules?: {
      host?: string;
      http?: { paths?: { path?: string; backend?: { service?: { name?: string } } }[] };
    }[];
  };
}

interface BlueGreenSpec {
  activeService?: string;
  previewService?: string;
}

/** The blue-green strategy of a Rollout manifest, or undefined. */
export function blueGreenOf(rollout: Manifest): BlueGreenSpec | undefined {
  return (rollout.spec as { strategy?: { blueGreen?: BlueGreenSpec } } | undefined)?.strategy?.blueGreen;
}

/** The first Ingress rule (host and a request path) that sends traffic to `service`. */
export function routeTo(manifests: Manifest[], service: string): Route | undefined {
  for (const m of manifests) {
    if (m.kind !== 'Ingress') continue;
    for (const rule of (m as IngressManifest).spec?.rules ?? []) {
      const p = rule.http?.paths?.find((p) => p.backend?.service?.name === service);
      if (p) return { ingress: m.metadata.name, host: rule.host ?? 'localhost', path: p.path || '/' };
    }
  }
  return undefined;
}

/** The active and preview routes of a blue-green Rollout's manifests; a UserError when one is missing. */
export function blueGreenRoutes(manifests: Manifest[], rollout: Manifest): { active: Route; preview: Route } {
  const bg = blueGreenOf(rollout);
  if (!bg)
    throw new UserError(`--strategy bluegreen: Rollout ${rollout.metadata.name} has no strategy.blueGreen`);
  const find = (role: string, service: string | undefined) => {
    if (!service) throw new UserError(`Rollout ${rollout.metadata.name} has no blueGreen.${role}Service`);
    const r = routeTo(manifests, service);
    if (!r)
      throw new UserError(`no Ingress in the manifests sends traffic to the ${role} Service ${service}`, {
        hint: 'the blue-green playground needs one Ingress for the active Service and one for the preview Service',
      });
    return r;
  };
  return { active: find('active', bg.activeService), preview: find('preview', bg.previewService) };
}

interface WatchedRollout {
  status?: {
    phase?: string;
    message?: string;
    stableRS?: string;
    currentPodHash?: string;
    blueGreen?: { activeSelector?: string; previewSelector?: string };
  };
}

interface StepRecord {
  step: string;
  expected: string;
  measured: string;
  pass: boolean;
}

export interface BlueGreenStepsContext {
  client: KubeClient;
  namespace: string;
  name: string;
  container: string;
  newImage: string;
  oldVersion: string;
  newVersion: string;
  stableHash: string;
  ingressUrl: string;
  routes: { active: Route; preview: Route };
  requests: number;
  abort: boolean;
  live: LiveOutput;
  watch(what: string, pred: (r: WatchedRollout) => boolean): Promise<WatchedRollout>;
  /** waits until the ReplicaSet with that hash has 0 replicas and no pods; what it measured */
  scaledDown(hash: string): Promise<string>;
  record(r: StepRecord): void;
  info(m: string): void;
}

const pct = (x: number) => `${(x * 100).toFixed(1)}%`;

function sharesText(byVersion: Record<string, number>): string {
  const total = Object.values(byVersion).reduce((a, b) => a + b, 0);
  return Object.entries(byVersion)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([v, n]) => `${v}: ${n} (${pct(total ? n / total : 0)})`)
    .join(', ');
}

function failuresText(failures: Record<string, number>): string {
  const f = Object.entries(failures);
  return f.length ? `; failures: ${f.map(([k, v]) => `${v}× ${k}`).join(', ')}` : '';
}

const failedCount = (failures: Record<string, number>) => Object.values(failures).reduce((a, b) => a + b, 0);

async function send(x: BlueGreenStepsContext, label: string, route: Route, n: number): Promise<BurstResult> {
  const res = await burst({
    url: x.ingressUrl,
    host: route.host,
    path: route.path,
    requests: n,
    onProgress: (d, t) => x.live.update(`${label} ${progressBar(d, t)}`),
  });
  x.live.update('');
  return res;
}

/**
 * The status changes first; the data plane follows the Service switch a
 * moment later (EndpointSlices). Waits until 50 requests in a row get
 * `version` (at most 20 s) and says how long that took.
 */
async function settle(x: BlueGreenStepsContext, route: Route, version: string): Promise<string> {
  const started = Date.now();
  for (let tries = 1; ; tries++) {
    const r = await burst({
      url: x.ingressUrl,
      host: route.host,
      path: route.path,
      requests: 50,
      concurrency: 1,
    });
    if ((r.byVersion[version] ?? 0) === 50) {
      return tries === 1
        ? `${route.host} already serves only ${version} (50 requests in a row)`
        : `${route.host} serves only ${version} after ${Date.now() - started} ms`;
    }
    if (Date.now() - started > 20_000)
      return `${route.host} did not settle on ${version} within 20 s: ${sharesText(r.byVersion)}`;
    x.live.update(`waiting for the data plane to follow on ${route.host}`);
    await sleep(100);
  }
}

/** Measures one host: all `n` answers must come from `version`. */
async function measureHost(
  x: BlueGreenStepsContext,
  step: string,
  what: string,
  route: Route,
  version: string,
): Promise<void> {
  const r = await send(x, `${step} ${x.requests} requests to ${route.host}${route.path}`, route, x.requests);
  x.record({
    step: `${step} ${what} (${x.requests} requests to ${route.host})`,
    expected: `100% on ${version}`,
    measured: `${sharesText(r.byVersion)}${failuresText(r.failures)}`,
    pass: (r.byVersion[version] ?? 0) === x.requests,
  });
}

const selectors = (r: WatchedRollout) =>
  `active → ${r.status?.blueGreen?.activeSelector ?? '?'}, preview → ${r.status?.blueGreen?.previewSelector ?? '?'}`;

/** Step 2: the new image, up to the BlueGreenPause; returns the new ReplicaSet's hash. */
async function updateToPause(x: BlueGreenStepsContext): Promise<string> {
  await setImage(x.client, x.namespace, x.name, x.container, x.newImage);
  x.info(`set image ${x.container}=${x.newImage}`);
  const paused = await x.watch(
    'the BlueGreenPause',
    (r) =>
      (r.status?.phase === 'Paused' && r.status.currentPodHash !== x.stableHash) ||
      r.status?.phase === 'Degraded',
  );
  const newHash = paused.status?.currentPodHash ?? '';
  const bg = paused.status?.blueGreen;
  x.record({
    step: `2. update to ${x.newVersion}`,
    expected: 'Paused (BlueGreenPause), active on the old ReplicaSet, preview on the new one',
    measured: `${paused.status?.phase} (${paused.status?.message}); ${selectors(paused)}`,
    pass:
      paused.status?.phase === 'Paused' &&
      paused.status.message === 'BlueGreenPause' &&
      bg?.activeSelector === x.stableHash &&
      bg?.previewSelector === newHash,
  });
  return newHash;
}

/** Steps 4-6 of a promotion: the switch, both hosts on the new version, the old ReplicaSet down. */
async function promote(x: BlueGreenStepsContext, newHash: string): Promise<void> {
  await x.client.patch(
    resourcePath(RESOURCES.rollouts, x.namespace, x.name, 'status'),
    { status: { pauseConditions: null } },
    MERGE_PATCH,
  );
  x.info('promoted (status.pauseConditions=null, as `kanary promote` does)');
  const done = await x.watch(
    `Healthy on ${x.newVersion}`,
    (r) => r.status?.phase === 'Healthy' && r.status.stableRS === newHash,
  );
  x.record({
    step: '4. promote',
    expected: `Healthy, stable = ${x.newVersion}, active → ${newHash}`,
    measured: `${done.status?.phase} (stable ReplicaSet ${x.name}-${done.status?.stableRS}); ${selectors(done)}`,
    pass:
      done.status?.phase === 'Healthy' &&
      done.status.stableRS === newHash &&
      done.status.blueGreen?.activeSelector === newHash,
  });
  x.info(await settle(x, x.routes.active, x.newVersion));
  await measureHost(x, '5.', 'active host after promotion', x.routes.active, x.newVersion);
  await measureHost(x, '5b.', 'preview host after promotion', x.routes.preview, x.newVersion);
  const scaled = await x.scaledDown(x.stableHash);
  x.record({
    step: `6. old ReplicaSet (${x.oldVersion}) scaled down`,
    expected: '0 replicas',
    measured: scaled,
    pass: scaled === '0 replicas',
  });
}

/** Steps 4-6 of an abort: active stays on the old version, the preview ReplicaSet is scaled down. */
async function abort(x: BlueGreenStepsContext, newHash: string): Promise<void> {
  await x.client.patch(
    resourcePath(RESOURCES.rollouts, x.namespace, x.name, 'status'),
    { status: { abort: true } },
    MERGE_PATCH,
  );
  x.info('aborted (status.abort=true, as `kanary abort` does)');
  const aborted = await x.watch('the abort', (r) => r.status?.phase === 'Degraded');
  x.record({
    step: '4. abort',
    expected: `Degraded (RolloutAborted), stable unchanged, active → ${x.stableHash}`,
    measured: `${aborted.status?.phase}: ${aborted.status?.message}; ${selectors(aborted)}`,
    pass:
      aborted.status?.phase === 'Degraded' &&
      aborted.status.stableRS === x.stableHash &&
      aborted.status.blueGreen?.activeSelector === x.stableHash,
  });
  await measureHost(x, '5.', 'active host after abort', x.routes.active, x.oldVersion);
  const scaled = await x.scaledDown(newHash);
  x.record({
    step: `6. preview ReplicaSet (${x.newVersion}) scaled down`,
    expected: '0 replicas',
    measured: scaled,
    pass: scaled === '0 replicas',
  });
}

/** Steps 2-7 of the blue-green scenario (step 1, the first deploy, is the playground's). */
export async function runBlueGreenSteps(x: BlueGreenStepsContext): Promise<void> {
  const newHash = await updateToPause(x);
  x.info(await settle(x, x.routes.preview, x.newVersion));
  await measureHost(x, '3.', 'active host while paused', x.routes.active, x.oldVersion);
  await measureHost(x, '3b.', 'preview host while paused', x.routes.preview, x.newVersion);

  const { host, path } = x.routes.active;
  const traffic = backgroundTraffic(x.ingressUrl, host, path);
  x.info(`sending steady traffic to ${host}${path} through the switch and the scale-down`);
  try {
    await (x.abort ? abort(x, newHash) : promote(x, newHash));
  } finally {
    await traffic.stop();
  }
  const answered = Object.values(traffic.byVersion).reduce((a, b) => a + b, 0);
  const failed = failedCount(traffic.failures);
  x.record({
    step: `7. steady traffic on ${host} throughout`,
    expected: 'no failed request',
    measured: `${answered + failed} requests, ${failed} failed (${sharesText(traffic.byVersion)})${failuresText(traffic.failures)}`,
    pass: failed === 0 && answered > 0,
  });
}
