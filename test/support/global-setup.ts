import { readFileSync, writeFileSync } from 'node:fs';
import { progressPrinter } from '../../src/cli/progress.ts';
import { clusterConfig, files } from '../../src/cluster/config.ts';
import { clusterUp } from '../../src/cluster/lifecycle.ts';
import { KubeClient } from '../../src/kube/client.ts';
import { loadKubeConfig } from '../../src/kube/config.ts';
import { installCrds } from '../../src/kube/crds.ts';
import { prefetchUpstream } from './upstream.ts';

/**
 * Runs once per `node --test` run, before any test file: fetches the upstream
 * test data (Go module cache), brings the shared local cluster up (a no-op
 * when it is already running) and installs Kanary's CRDs.
 * The cluster is left running afterwards so the next run starts instantly;
 * `kanary cluster down` stops it.
 *
 * The cluster is "kanary" unless `KANARY_CLUSTER=<name>` names another one
 * (read by clusterConfig() everywhere, so every test file follows): e.g. a
 * cluster started from this checkout when the tests need its pod runtime.
 */
export async function globalSetup(): Promise<void> {
  const c = clusterConfig();
  const progress = progressPrinter();
  prefetchUpstream(progress); // the upstream manifests tests read, from the Go module proxy
  await clusterUp(c, { progress, timeoutSeconds: 180 });
  await installCrds(new KubeClient(loadKubeConfig({ kubeconfig: files(c).kubeconfig })));
  addTestImageBehaviours(files(c).imageBehaviours, await runtimeBehaviourFields(c.ports.runtime));
}

/**
 * The behaviour fields the running pod runtime understands (its `/behaviours`).
 * A runtime from before that endpoint knows only status, delayMs and ready, and
 * ignores the whole file when one entry has a field it does not know.
 */
export async function runtimeBehaviourFields(port: number): Promise<Set<string>> {
  const res = await fetch(`http://127.0.0.1:${port}/behaviours`).catch(() => undefined);
  const body = res?.ok ? ((await res.json().catch(() => ({}))) as { fields?: string[] }) : {};
  return new Set(body.fields ?? ['status', 'delayMs', 'ready']);
}

/**
 * Images tests use to emulate broken releases (read by the pod runtime at each
 * pod start): `kanary-test/notready:*` never becomes Ready (a failing readiness
 * probe); `kanary-test/error:*` answers every request with HTTP 500;
 * `kanary-test/flaky:*` answers 20% of requests (drawn per request) with HTTP
 * 500; `kanary-test/slow:*` waits a log-normal time (median 40 ms, p99
 * 200 ms) before each answer; `kanary-test/job-fail:*` runs 1 s and exits 1, `kanary-test/job-ok:*`
 * runs 1 s and exits 0 (as the containers of Jobs).
 */
export const TEST_IMAGE_BEHAVIOURS: Record<string, Record<string, unknown>> = {
  'kanary-test/notready:*': { ready: false },
  'kanary-test/error:*': { status: 500 },
  'kanary-test/flaky:*': { errorRate: 0.2 },
  'kanary-test/slow:*': { latency: { medianMs: 40, p99Ms: 200 } },
  'kanary-test/stall:*': { delayMs: 3000 },
  'kanary-test/job-fail:*': { exitCode: 1, runMs: 1000 },
  'kanary-test/job-ok:*': { exitCode: 0, runMs: 1000 },
};

function addTestImageBehaviours(path: string, understood: Set<string>): void {
  let current: Record<string, unknown> = {};
  try {
    current = JSON.parse(readFileSync(path, 'utf8'));
  } catch {
    /* missing or unreadable: start afresh */
  }
  // only what the running runtime understands: one unknown field would disable every behaviour
  const known = Object.fromEntries(
    Object.entries(TEST_IMAGE_BEHAVIOURS).filter(([, b]) => Object.keys(b).every((k) => understood.has(k))),
  );
  writeFileSync(path, `${JSON.stringify({ ...current, ...known }, null, 2)}\n`);
}
