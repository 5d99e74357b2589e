import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { styleText } from 'node:util';
import { UserError } from '../cli/errors.ts';
import { Cluster } from '../cli/kube.ts';
import { renderRollout } from '../cli/render/rollout.ts';
import { rolloutInfo } from '../client/rollout-info.ts';
import { clusterConfig, files } from '../cluster/config.ts';
import { adoptProcesses, binariesPresent, clusterUp } from '../cluster/lifecycle.ts';
import { repoRoot } from '../cluster/paths.ts';
import { freePort, portFree } from '../cluster/ports.ts';
import { isRunning, type ProcessRecord, spawnDaemon, stopProcess, tailFile } from '../cluster/procs.ts';
import { applyManifests, loadManifests, type Manifest } from '../kube/apply.ts';
import { isNotFound, KubeClient, MERGE_PATCH, RESOURCES, resourcePath } from '../kube/client.ts';
import { loadKubeConfig } from '../kube/config.ts';
import { installCrds } from '../kube/crds.ts';
import { analysisManifests, configureBadImage, runAnalysisSteps, startPrometheus } from './analysis.ts';
import { BLUEGREEN_NEW_IMAGE, blueGreenOf, blueGreenRoutes, runBlueGreenSteps } from './bluegreen.ts';
import { type LiveOutput, progressBar } from './live.ts';
import { wilsonInterval } from './stats.ts';
import { type BurstResult, burst } from './traffic.ts';

export interface PlaygroundOptions {
  /** "default": the canary promoted (or aborted) by hand; "analysis": decided by a success-rate analysis */
  scenario?: 'default' | 'analysis';
  /** "canary" (examples/tomozo) or "bluegreen" (examples/bluegreen: active and preview hosts) */
  strategy?: 'canary' | 'bluegreen';
  requests: number;
  replicas: number;
  keep: boolean;
  abort: boolean;
  /** the user's manifests instead of the built-in tomozo scenario */
  dir?: string;
  /** the new image to roll out (default for the built-in scenario: tomozo-repo/tomozo:0.0.2) */
  image?: string;
  kubeconfig?: string;
  context?: string;
  /** data plane URL when using an existing cluster */
  ingressUrl?: string;
  namespace: string;
  /** undefined: 18080, or any free port when 18080 is taken */
  ingressPort?: number;
  host?: string;
  path?: string;
  /** confidence level of the interval the measured share is judged by (default 0.99) */
  confidence: number;
  /** seconds to wait for each rollout stage */
  timeoutSeconds: number;
  live: LiveOutput;
  colour: boolean;
}

export interface StepResult {
  step: string;
  expected: string;
  measured: string;
  pass: boolean;
}

const BUILTIN_DIR = join(repoRoot, 'examples', 'tomozo');
const BUILTIN_NEW_IMAGE = 'tomozo-repo/tomozo:0.0.2';
const BUILTIN_BLUEGREEN_DIR = join(repoRoot, 'examples', 'bluegreen');
const INSTANCE_ID = 'kanary-playground';
const HASH_LABEL = 'rollouts-pod-template-hash';

interface RolloutLike extends Manifest {
  spec: {
    replicas?: number;
    template: { spec: { containers: { name: string; image: string }[] } };
    strategy?: {
      canary?: {
        steps?: { setWeight?: number; pause?: unknown }[];
        trafficRouting?: {
          nginx?: {
            stableIngress?: string;
            stableIngresses?: string[];
            annotationPrefix?: string;
            additionalIngressAnnotations?: Record<string, string>;
          };
        };
      };
    };
  };
  status?: {
    phase?: string;
    message?: string;
    stableRS?: string;
    currentPodHash?: string;
    currentStepIndex?: number;
    abort?: boolean;
    canary?: { weights?: { canary?: { weight?: number } } };
  };
}

interface IngressLike {
  spec?: { rules?: { host?: string; http?: { paths?: { path?: string; pathType?: string }[] } }[] };
}

/** A request path that a regex or prefix Ingress path accepts: "/v1/tomozo/.*" → "/v1/tomozo/playground". */
export function samplePath(path: string | undefined): string {
  if (!path) return '/';
  const literal = path.replace(/\(.*$|[.[*+?^$|\\{].*$/, '');
  return literal.endsWith('/') ? `${literal}playground` : literal || '/';
}

const versionOf = (image: string) => {
  const tail = image.slice(image.lastIndexOf('/') + 1);
  const at = image.indexOf('@');
  if (at >= 0) return image.slice(at + 1);
  return tail.includes(':') ? tail.slice(tail.indexOf(':') + 1) : 'latest';
};

const pct = (x: number) => `${(x * 100).toFixed(1)}%`;
const confidenceText = (c: number) => `${Number((c * 100).toFixed(2))}%`;

export async function runPlayground(o: PlaygroundOptions): Promise<{ results: StepResult[]; ok: boolean }> {
  const { live } = o;
  const results: StepResult[] = [];
  const record = (r: StepResult) => {
    results.push(r);
    live.log(
      `${r.pass ? mark('✔', 'green', o.colour) : mark('✖', 'red', o.colour)} ${r.step}: ${r.measured}`,
    );
  };
  const info = (m: string) => live.log(mark(`• ${m}`, 'dim', o.colour));
  const external = Boolean(o.kubeconfig || o.context);
  const analysis = o.scenario === 'analysis';
  if (analysis && (external || o.dir || o.image || o.abort)) {
    throw new UserError(
      '--scenario analysis runs the built-in tomozo scenario on the local cluster: it takes none of --kubeconfig, --context, -f, --image, --abort',
    );
  }
  const bluegreen = o.strategy === 'bluegreen';
  if (analysis && bluegreen)
    throw new UserError(
      '--scenario analysis is a canary scenario: it cannot be combined with --strategy bluegreen',
    );
  if (external && !o.ingressUrl) {
    throw new UserError('with --kubeconfig/--context the playground uses your cluster and its data plane', {
      hint: 'pass --ingress-url http://<address of your ingress controller> (it must serve the Ingress classes in the manifests)',
    });
  }
  const dir = o.dir ?? (bluegreen ? BUILTIN_BLUEGREEN_DIR : BUILTIN_DIR);
  let manifests = loadManifests(dir);
  const rolloutManifest = manifests.find((m) => m.kind === 'Rollout') as RolloutLike | undefined;
  if (!rolloutManifest) throw new UserError(`no Rollout found in ${dir}`);
  const newImage = o.image ?? (o.dir ? undefined : bluegreen ? BLUEGREEN_NEW_IMAGE : BUILTIN_NEW_IMAGE);
  if (!newImage) throw new UserError('with -f, say which image to roll out with --image <image>');
  const name = rolloutManifest.metadata.name;
  const container = rolloutManifest.spec.template.spec.containers[0];
  if (!container) throw new UserError(`Rollout ${name} has no containers`);
  const oldVersion = versionOf(container.image);
  const newVersion = versionOf(newImage);
  const nginx = rolloutManifest.spec.strategy?.canary?.trafficRouting?.nginx;
  const stableIngressName = nginx?.stableIngress ?? nginx?.stableIngresses?.[0];
  const ingress = manifests.find((m) => m.kind === 'Ingress' && m.metadata.name === stableIngressName) as
    | IngressLike
    | undefined;
  const rule = ingress?.spec?.rules?.[0];
  // with -f, a blue-green Rollout gets the blue-green checks without --strategy
  const routes =
    bluegreen || blueGreenOf(rolloutManifest) ? blueGreenRoutes(manifests, rolloutManifest) : undefined;
  const host = o.host ?? routes?.active.host ?? rule?.host ?? 'localhost';
  const path = o.path ?? (routes ? routes.active.path : samplePath(rule?.http?.paths?.[0]?.path));
  const extra = nginx?.additionalIngressAnnotations ?? {};
  const headerName = extra['canary-by-header'];
  const headerValue = extra['canary-by-header-value'] ?? 'always';
  for (const m of manifests) {
    if (m.kind !== 'Rollout') continue;
    (m as RolloutLike).spec.replicas = o.replicas;
    // on someone else's cluster, keep any other Rollout controller away from the playground's Rollout
    if (external)
      m.metadata.labels = {
        ...m.metadata.labels,
        'argo-rollouts.argoproj.io/controller-instance-id': INSTANCE_ID,
      };
  }

  // 1. the cluster
  let kubeconfig = o.kubeconfig;
  const c = clusterConfig();
  if (!external) {
    if (!binariesPresent(c)) {
      info(
        'first run: building the local control plane from Go modules (about 5-45 minutes; cached afterwards)',
      );
    }
    await clusterUp(c, { progress: info, timeoutSeconds: 180 });
    kubeconfig = files(c).kubeconfig;
  }
  const kc = loadKubeConfig({ kubeconfig, context: o.context });
  const client = new KubeClient(kc);
  const cluster = new Cluster(kc, o.namespace);
  if (!external) await installCrds(client);
  else await ensureCrd(client);

  // 2. a fresh namespace
  await recreateNamespace(client, o.namespace, info);

  // 3. controller and data plane, as their own processes
  const logDir = external
    ? join(process.env.TMPDIR ?? '/tmp', `kanary-playground-${process.pid}`)
    : join(c.stateDir, 'playground', o.namespace);
  mkdirSync(logDir, { recursive: true });
  // nginx's workers must be able to reach their state dir (not so under a 0700 home directory)
  const nginxDir = external
    ? join(logDir, 'nginx')
    : join(files(c).workerReachable, 'playground', o.namespace, 'nginx');
  const kanaryBin = join(repoRoot, 'bin', 'kanary.js');
  const kubeArgs = [
    ...(kubeconfig ? ['--kubeconfig', kubeconfig] : []),
    ...(o.context ? ['--context', o.context] : []),
  ];
  const procs: ProcessRecord[] = [];
  const stopAll = async () => {
    for (const p of procs.reverse()) await stopProcess(p, 5000);
  };
  let keepRunning = false;
  const onSignal = () => {
    void stopAll().then(() => process.exit(130));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  let restoreImage = () => {};
  try {
    const controllerPort = await freePort();
    procs.push(
      spawnDaemon(
        'playground-controller',
        process.execPath,
        [
          kanaryBin,
          'controller',
          ...kubeArgs,
          '--namespace',
          o.namespace,
          '--health-port',
          String(controllerPort),
          ...(external ? ['--instance-id', INSTANCE_ID] : []),
        ],
        join(logDir, 'controller.log'),
      ),
    );
    await waitHttp(`http://127.0.0.1:${controllerPort}/readyz`, 'the Rollout controller', procs[0]!);
    info(`Rollout controller running (logs: ${join(logDir, 'controller.log')})`);
    let ingressUrl = o.ingressUrl;
    let metricsPort = 0;
    let ingressMetrics: string | undefined;
    if (!external) {
      let ingressPort = await choosePort(o.ingressPort, info);
      for (let attempt = 1; ; attempt++) {
        metricsPort = await freePort();
        const httpsPort = await freePort();
        const rec = spawnDaemon(
          'playground-ingress',
          process.execPath,
          [
            kanaryBin,
            'ingress',
            ...kubeArgs,
            '--namespace',
            o.namespace,
            '--http-port',
            String(ingressPort),
            '--https-port',
            String(httpsPort),
            '--metrics-port',
            String(metricsPort),
            '--state-dir',
            nginxDir,
          ],
          join(logDir, 'ingress.log'),
        );
        procs.push(rec);
        try {
          await waitHttp(`http://127.0.0.1:${metricsPort}/healthz`, 'the NGINX data plane', rec);
          ingressMetrics = `http://127.0.0.1:${metricsPort}/metrics`;
          break;
        } catch (err) {
          // a port found free can be taken before nginx binds it (another playground, say):
          // unless the user chose the port, take another one
          const raced =
            /Address already in use/.test(String(err)) && o.ingressPort === undefined && attempt < 3;
          if (!raced) throw err;
          await stopProcess(rec, 2000);
          procs.splice(procs.indexOf(rec), 1);
          ingressPort = await freePort();
          info(`a port was taken meanwhile; retrying the data plane on ${ingressPort}`);
        }
      }
      ingressUrl = `http://127.0.0.1:${ingressPort}`;
      info(`NGINX data plane serving on ${ingressUrl} (logs: ${join(logDir, 'ingress.log')})`);
    }

    if (analysis) {
      restoreImage = await configureBadImage(c);
      const prometheus = await startPrometheus(logDir, metricsPort, procs);
      info(
        `Prometheus ${prometheus} scraping the data plane's /metrics every second (logs: ${join(logDir, 'prometheus.log')})`,
      );
      manifests = analysisManifests(manifests, o.namespace, stableIngressName ?? '', prometheus);
    }

    // 4. the scenario
    await applyManifests(client, o.namespace, manifests, 'kanary-playground');
    info(
      `applied ${manifests.length} objects from ${dir} into namespace ${o.namespace} (${o.replicas} replicas)`,
    );
    const watch = (what: string, pred: (r: RolloutLike) => boolean) =>
      waitRollout(cluster, name, what, pred, o.timeoutSeconds * 1000, live, o.colour, procs);

    const healthy = await watch(`Healthy on ${oldVersion}`, (r) => r.status?.phase === 'Healthy');
    const stableHash = healthy.status?.stableRS ?? '';
    record({
      step: `1. deploy ${container.image}`,
      expected: 'Healthy',
      measured: `${healthy.status?.phase} (stable ReplicaSet ${name}-${stableHash})`,
      pass: healthy.status?.phase === 'Healthy',
    });

    if (analysis) {
      await runAnalysisSteps({
        client,
        namespace: o.namespace,
        name,
        container: container.name,
        ingressUrl: ingressUrl!,
        host,
        path,
        oldVersion,
        stableHash,
        watch,
        record,
        info,
      });
    } else if (routes) {
      await runBlueGreenSteps({
        client,
        namespace: o.namespace,
        name,
        container: container.name,
        newImage,
        oldVersion,
        newVersion,
        stableHash,
        ingressUrl: ingressUrl!,
        routes: { active: { ...routes.active, host, path }, preview: routes.preview },
        requests: o.requests,
        abort: o.abort,
        live,
        watch,
        scaledDown: (hash) =>
          waitScaledDown(client, o.namespace, name, hash, o.timeoutSeconds + 60, live, info),
        record,
        info,
      });
    } else {
      const fresh = (await cluster.getRollout(name)) as unknown as RolloutLike;
      const containers = fresh.spec.template.spec.containers.map((x) =>
        x.name === container.name ? { ...x, image: newImage } : x,
      );
      await client.patch(
        resourcePath(RESOURCES.rollouts, o.namespace, name),
        { spec: { template: { spec: { containers } } } },
        MERGE_PATCH,
      );
      info(`set image ${container.name}=${newImage}`);
      const paused = await watch(
        'the canary step to pause',
        (r) => r.status?.phase === 'Paused' || r.status?.phase === 'Degraded',
      );
      const expectedWeight = setWeightAt(paused);
      const actualWeight = paused.status?.canary?.weights?.canary?.weight;
      record({
        step: `2. update to ${newVersion}`,
        expected: `Paused at setWeight ${expectedWeight}`,
        measured: `${paused.status?.phase} at step ${paused.status?.currentStepIndex}, canary weight ${actualWeight ?? '?'}`,
        pass: paused.status?.phase === 'Paused' && actualWeight === expectedWeight,
      });

      const send = async (label: string, n: number, headers?: Record<string, string>) => {
        const res = await burst({
          url: ingressUrl!,
          host,
          path,
          requests: n,
          headers,
          onProgress: (d, t) => live.update(`${label} ${progressBar(d, t)}`),
        });
        live.update('');
        return res;
      };
      const failuresText = (r: BurstResult) => {
        const f = Object.entries(r.failures);
        return f.length ? `; failures: ${f.map(([k, v]) => `${v}× ${k}`).join(', ')}` : '';
      };
      const failed = (r: BurstResult) => Object.values(r.failures).reduce((a, b) => a + b, 0);
      /**
       * The status changes first; the data plane follows a moment later (the canary Ingress's new
       * weight, the Service switch and its EndpointSlices). Measuring the next step's traffic before
       * then would count the tail of the previous one, so wait until 50 requests in a row get
       * `version` (at most 20 s) and say how long that took.
       */
      const settle = async (label: string, version: string): Promise<string> => {
        const started = Date.now();
        for (let tries = 1; ; tries++) {
          const r = await burst({ url: ingressUrl!, host, path, requests: 50, concurrency: 1 });
          if ((r.byVersion[version] ?? 0) === 50) {
            return tries === 1
              ? `the data plane already serves only ${version} (50 requests in a row)`
              : `the data plane serves only ${version} after ${Date.now() - started} ms`;
          }
          if (Date.now() - started > 20_000)
            return `traffic did not settle on ${version} within 20 s: ${shares(r)}`;
          live.update(`${label}: waiting for the data plane to follow`);
          await sleep(100);
        }
      };

      const weighted = await send(`3. ${o.requests} requests to ${host}${path}`, o.requests);
      const canaryHits = weighted.byVersion[newVersion] ?? 0;
      const answered = o.requests - failed(weighted);
      const ci = wilsonInterval(canaryHits, answered, o.confidence);
      const expectedShare = expectedWeight / 100;
      record({
        step: `3. traffic at weight ${expectedWeight} (${o.requests} requests)`,
        expected: `${pct(expectedShare)} on ${newVersion}, no failures`,
        measured: `${pct(answered ? canaryHits / answered : 0)} on ${newVersion} (${confidenceText(o.confidence)} interval ${pct(ci.low)}–${pct(ci.high)}), ${shares(weighted)}${failuresText(weighted)}`,
        pass: failed(weighted) === 0 && ci.low <= expectedShare && expectedShare <= ci.high,
      });
      if (headerName) {
        const n = Math.min(200, o.requests);
        const r = await send(`3b. ${n} requests with ${headerName}: ${headerValue}`, n, {
          [headerName]: headerValue,
        });
        const hits = r.byVersion[newVersion] ?? 0;
        record({
          step: `3b. header ${headerName}: ${headerValue} (${n} requests)`,
          expected: `100% on ${newVersion}`,
          measured: `${pct(hits / n)} on ${newVersion}${failuresText(r)}`,
          pass: hits === n,
        });
      }

      const canaryHash = paused.status?.currentPodHash ?? '';
      if (o.abort) {
        await client.patch(
          resourcePath(RESOURCES.rollouts, o.namespace, name, 'status'),
          { status: { abort: true } },
          MERGE_PATCH,
        );
        info('aborted (status.abort=true, as `kanary abort` does)');
        const aborted = await watch(
          'the abort to complete',
          (r) => r.status?.abort === true && r.status?.phase === 'Degraded',
        );
        record({
          step: '4. abort',
          expected: 'Degraded (RolloutAborted), stable unchanged',
          measured: `${aborted.status?.phase}: ${aborted.status?.message}`,
          pass: aborted.status?.phase === 'Degraded' && aborted.status.stableRS === stableHash,
        });
        info(await settle('5.', oldVersion));
        const after = await send(`5. ${o.requests} requests after abort`, o.requests);
        record({
          step: `5. traffic after abort (${o.requests} requests)`,
          expected: `100% on ${oldVersion}`,
          measured: `${shares(after)}${failuresText(after)}`,
          pass: (after.byVersion[oldVersion] ?? 0) === o.requests,
        });
        const scaled = await waitScaledDown(
          client,
          o.namespace,
          name,
          canaryHash,
          o.timeoutSeconds + 60,
          live,
          info,
        );
        record({
          step: '6. canary ReplicaSet scaled down',
          expected: '0 replicas',
          measured: scaled,
          pass: scaled === '0 replicas',
        });
      } else {
        await cluster.patchRollout(name, { status: { pauseConditions: null } }, { status: true });
        info('promoted (status.pauseConditions=null, as `kanary promote` does)');
        const done = await watch(
          `Healthy on ${newVersion}`,
          (r) => r.status?.phase === 'Healthy' && r.status.stableRS === canaryHash,
        );
        record({
          step: '4. promote',
          expected: `Healthy, stable = ${newVersion}`,
          measured: `${done.status?.phase} (stable ReplicaSet ${name}-${done.status?.stableRS})`,
          pass: done.status?.phase === 'Healthy' && done.status.stableRS === canaryHash,
        });
        info(await settle('5.', newVersion));
        const after = await send(`5. ${o.requests} requests after promotion`, o.requests);
        record({
          step: `5. traffic after promotion (${o.requests} requests)`,
          expected: `100% on ${newVersion}`,
          measured: `${shares(after)}${failuresText(after)}`,
          pass: (after.byVersion[newVersion] ?? 0) === o.requests,
        });
        const scaled = await waitScaledDown(
          client,
          o.namespace,
          name,
          stableHash,
          o.timeoutSeconds + 60,
          live,
          info,
        );
        record({
          step: `6. old ReplicaSet (${oldVersion}) scaled down`,
          expected: '0 replicas',
          measured: scaled,
          pass: scaled === '0 replicas',
        });
      }
    }
    keepRunning = o.keep;
    const dashboardUrl = o.keep
      ? await startDashboard(o.namespace, kubeArgs, ingressMetrics, logDir, procs, info)
      : undefined;
    if (o.keep && !external) adoptProcesses(c, procs);
    if (o.keep) {
      live.done();
      printKeepInstructions(o, {
        kubeconfig,
        ingressUrl: ingressUrl!,
        host,
        path,
        name,
        headerName,
        headerValue,
        procs,
        external,
        dashboardUrl,
      });
    }
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    if (!keepRunning) {
      await stopAll();
      // with --keep the 0.0.3 pods may be recreated and must still fail
      restoreImage();
    }
  }
  if (!o.keep) {
    // without a controller its Rollout would sit there unmanaged; --keep leaves everything
    await client.delete(`/api/v1/namespaces/${o.namespace}`).catch(() => undefined);
    info(`removed namespace ${o.namespace} (use --keep to leave everything running)`);
  }
  live.done();
  return { results, ok: results.every((r) => r.pass) };
}

async function choosePort(wanted: number | undefined, info: (m: string) => void): Promise<number> {
  if (wanted !== undefined) {
    if (!(await portFree(wanted))) {
      throw new UserError(`--ingress-port ${wanted} is in use on 127.0.0.1`, {
        hint: 'choose another port, or leave the flag out to get a free one',
      });
    }
    return wanted;
  }
  if (await portFree(18080)) return 18080;
  const port = await freePort();
  info(`port 18080 is taken; the data plane uses ${port} instead`);
  return port;
}

function mark(text: string, style: 'green' | 'red' | 'dim', colour: boolean): string {
  return colour ? styleText(style, text) : text;
}

function shares(r: BurstResult): string {
  const total = Object.values(r.byVersion).reduce((a, b) => a + b, 0);
  return Object.entries(r.byVersion)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([v, n]) => `${v}: ${n} (${pct(total ? n / total : 0)})`)
    .join(', ');
}

/** The setWeight in force at the current step: the last one at or before it. */
function setWeightAt(r: RolloutLike): number {
  const steps = r.spec.strategy?.canary?.steps ?? [];
  const idx = Math.min(r.status?.currentStepIndex ?? 0, steps.length);
  let w = 0;
  for (let i = 0; i < idx; i++) if (steps[i]?.setWeight !== undefined) w = steps[i]!.setWeight!;
  return w;
}

async function ensureCrd(client: KubeClient): Promise<void> {
  try {
    await client.get('/apis/apiextensions.k8s.io/v1/customresourcedefinitions/rollouts.argoproj.io');
  } catch (err) {
    if (!isNotFound(err)) throw err;
    await installCrds(client);
  }
}

async function recreateNamespace(client: KubeClient, ns: string, info: (m: string) => void): Promise<void> {
  const path = `/api/v1/namespaces/${ns}`;
  try {
    await client.delete(path);
    info(`removing namespace ${ns} from an earlier run`);
    const deadline = Date.now() + 120_000;
    for (;;) {
      try {
        await client.get(path);
      } catch (err) {
        if (isNotFound(err)) break;
        throw err;
      }
      if (Date.now() > deadline) throw new UserError(`namespace ${ns} is still terminating after 2 minutes`);
      await sleep(250);
    }
  } catch (err) {
    if (!isNotFound(err)) throw err;
  }
  await client.create('/api/v1/namespaces', {
    metadata: { name: ns, labels: { 'app.kubernetes.io/part-of': 'kanary-playground' } },
  });
  // pods need the namespace's default ServiceAccount, which the controller-manager creates
  for (let i = 0; i < 200; i++) {
    try {
      await client.get(`${path}/serviceaccounts/default`);
      return;
    } catch {
      await sleep(100);
    }
  }
}

/**
 * `kanary dashboard` for the playground's namespace, on 3100 when free: a
 * daemon like the controller, with a token of its own (in a file only root
 * reads). Returns the URL to open, token included.
 */
async function startDashboard(
  namespace: string,
  kubeArgs: string[],
  ingressMetrics: string | undefined,
  logDir: string,
  procs: ProcessRecord[],
  info: (line: string) => void,
): Promise<string> {
  const port = (await portFree(3100)) ? 3100 : await freePort();
  const token = randomBytes(24).toString('base64url');
  const tokenFile = join(logDir, 'dashboard.token');
  writeFileSync(tokenFile, `${token}\n`, { mode: 0o600 });
  const rec = spawnDaemon(
    'playground-dashboard',
    process.execPath,
    [
      join(repoRoot, 'bin', 'kanary.js'),
      'dashboard',
      ...kubeArgs,
      '-n',
      namespace,
      '--port',
      String(port),
      '--token-file',
      tokenFile,
      ...(ingressMetrics ? ['--ingress-metrics', ingressMetrics] : []),
    ],
    join(logDir, 'dashboard.log'),
  );
  procs.push(rec);
  await waitHttp(`http://127.0.0.1:${port}/`, 'the dashboard', rec);
  info(`dashboard running (logs: ${join(logDir, 'dashboard.log')})`);
  return `http://127.0.0.1:${port}/#token=${token}`;
}

async function waitHttp(url: string, what: string, rec: ProcessRecord): Promise<void> {
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    if (!isRunning(rec)) throw new UserError(`${what} exited during start-up:\n${tailFile(rec.log, 15)}`);
    const ok = await fetch(url, { signal: AbortSignal.timeout(1000) })
      .then((r) => r.ok)
      .catch(() => false);
    if (ok) return;
    await sleep(200);
  }
  throw new UserError(`${what} did not become ready in 30 s:\n${tailFile(rec.log, 15)}`);
}

async function waitRollout(
  cluster: Cluster,
  name: string,
  what: string,
  pred: (r: RolloutLike) => boolean,
  timeoutMs: number,
  live: LiveOutput,
  colour: boolean,
  procs: ProcessRecord[],
): Promise<RolloutLike> {
  const deadline = Date.now() + timeoutMs;
  let lastLine = '';
  let last: RolloutLike | undefined;
  while (Date.now() < deadline) {
    for (const p of procs) {
      if (!isRunning(p)) throw new UserError(`${p.name} stopped unexpectedly:\n${tailFile(p.log, 15)}`);
    }
    const objects = await cluster.rolloutObjects(name);
    last = objects.rollout as unknown as RolloutLike;
    if (live.tty) {
      live.update(
        `waiting for ${what}…\n\n${renderRollout(rolloutInfo(objects), { now: Date.now(), colour })}`,
      );
    } else {
      const s = last.status;
      const line = `  ${s?.phase ?? 'Pending'}${s?.message ? ` - ${s.message}` : ''} (step ${s?.currentStepIndex ?? 0})`;
      if (line !== lastLine) live.log(line);
      lastLine = line;
    }
    if (pred(last)) {
      live.update('');
      return last;
    }
    await sleep(500);
  }
  live.update('');
  throw new UserError(
    `timed out after ${timeoutMs / 1000}s waiting for ${what}; rollout status: ${JSON.stringify(last?.status)}`,
  );
}

async function waitScaledDown(
  client: KubeClient,
  ns: string,
  rollout: string,
  hash: string,
  timeoutSeconds: number,
  live: LiveOutput,
  info: (m: string) => void,
): Promise<string> {
  const rsPath = resourcePath(RESOURCES.replicasets, ns, `${rollout}-${hash}`);
  const podsPath = resourcePath(RESOURCES.pods, ns);
  info(`waiting for ReplicaSet ${rollout}-${hash} to scale down (after scaleDownDelaySeconds)`);
  const deadline = Date.now() + timeoutSeconds * 1000;
  let measured = 'unknown';
  while (Date.now() < deadline) {
    const rs = await client.get<{
      spec: { replicas?: number };
      metadata: { annotations?: Record<string, string> };
    }>(rsPath);
    const pods = await client.get<{ items: unknown[] }>(podsPath, { labelSelector: `${HASH_LABEL}=${hash}` });
    measured = `${rs.spec.replicas ?? 0} replicas`;
    const deadlineAnn = rs.metadata.annotations?.['scale-down-deadline'];
    live.update(
      `ReplicaSet ${rollout}-${hash}: ${measured}, ${pods.items.length} pods${deadlineAnn ? ` (scale-down deadline ${deadlineAnn})` : ''}`,
    );
    if ((rs.spec.replicas ?? 0) === 0 && pods.items.length === 0) {
      live.update('');
      return '0 replicas';
    }
    await sleep(1000);
  }
  live.update('');
  return measured;
}

function printKeepInstructions(
  o: PlaygroundOptions,
  x: {
    kubeconfig?: string;
    ingressUrl: string;
    host: string;
    path: string;
    name: string;
    headerName?: string;
    headerValue: string;
    procs: ProcessRecord[];
    external: boolean;
    dashboardUrl?: string;
  },
): void {
  const ns = o.namespace;
  const kube = x.kubeconfig ? `export KUBECONFIG=${x.kubeconfig}` : '(your current kubeconfig)';
  const lines = [
    '',
    'Everything is still running. Try it by hand:',
    `  ${kube}`,
    `  npm run -s kanary -- get rollout ${x.name} -n ${ns} --watch`,
    `  curl -s -H 'Host: ${x.host}' ${x.ingressUrl}${x.path}`,
    ...(x.headerName
      ? [`  curl -s -H 'Host: ${x.host}' -H '${x.headerName}: ${x.headerValue}' ${x.ingressUrl}${x.path}`]
      : []),
    `  npm run -s kanary -- set image ${x.name} -n ${ns} ${x.name}=<new image>`,
    `  npm run -s kanary -- promote ${x.name} -n ${ns}      # or: abort ${x.name} -n ${ns}`,
    ...(x.dashboardUrl ? [`Watch it and act on it in the dashboard: ${x.dashboardUrl}`] : []),
    x.external
      ? `Stop the playground's processes with: kill ${x.procs.map((p) => p.pid).join(' ')}`
      : 'Stop everything with: npm run -s kanary -- cluster down',
    '',
  ];
  o.live.log(lines.join('\n'));
}

export function renderSummary(results: StepResult[], colour: boolean): string {
  const rows = [
    ['step', 'expected', 'measured', 'result'],
    ...results.map((r) => [r.step, r.expected, r.measured, r.pass ? 'pass' : 'FAIL']),
  ];
  const widths = [0, 1, 2].map((i) => Math.min(60, Math.max(...rows.map((r) => r[i]!.length))));
  const cut = (s: string, w: number) => (s.length > w ? `${s.slice(0, w - 1)}…` : s.padEnd(w));
  const lines = rows.map((r, i) => {
    const res =
      i === 0 ? r[3]! : r[3] === 'pass' ? mark('pass', 'green', colour) : mark('FAIL', 'red', colour);
    return `${cut(r[0]!, widths[0]!)}  ${cut(r[1]!, widths[1]!)}  ${cut(r[2]!, widths[2]!)}  ${res}`;
  });
  return `${lines.join('\n')}\n`;
}
