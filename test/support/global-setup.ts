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
 */
export async function globalSetup(): Promise<void> {
  const c = clusterConfig();
  const progress = progressPrinter();
  prefetchUpstream(progress); // the upstream manifests tests read, from the Go module proxy
  await clusterUp(c, { progress, timeoutSeconds: 180 });
  await installCrds(new KubeClient(loadKubeConfig({ kubeconfig: files(c).kubeconfig })));
  addTestImageBehaviours(files(c).imageBehaviours);
}

/**
 * Images tests use to emulate broken releases (read by the pod runtime at each
 * pod start): `kanary-test/notready:*` never becomes Ready (a failing readiness
 * probe); `kanary-test/error:*` answers every request with HTTP 500.
 */
export const TEST_IMAGE_BEHAVIOURS = {
  'kanary-test/notready:*': { ready: false },
  'kanary-test/error:*': { status: 500 },
};

function addTestImageBehaviours(path: string): void {
  let current: Record<string, unknown> = {};
  try {
    current = JSON.parse(readFileSync(path, 'utf8'));
  } catch {
    /* missing or unreadable: start afresh */
  }
  writeFileSync(path, `${JSON.stringify({ ...current, ...TEST_IMAGE_BEHAVIOURS }, null, 2)}\n`);
}
