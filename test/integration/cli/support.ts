import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import type { Rollout } from '../../../src/client/types.ts';
import { clusterConfig, files } from '../../../src/cluster/config.ts';
import {
  APPLY_PATCH,
  isNotFound,
  JSON_PATCH,
  KubeClient,
  MERGE_PATCH,
  RESOURCES,
  resourcePath,
} from '../../../src/kube/client.ts';
import { testKubeConfig, waitUntil } from '../../support/cluster.ts';
import { upstreamPath } from '../../support/upstream.ts';

export const ROOT = join(import.meta.dirname, '..', '..', '..');
export const KUBECONFIG = files(clusterConfig()).kubeconfig;
const CRD_PATH = '/apis/apiextensions.k8s.io/v1/customresourcedefinitions/rollouts.argoproj.io';
const OUR_CRD = join(ROOT, 'deploy', 'crds', 'rollout.yaml');

/**
 * Makes sure the cluster serves Rollouts. A CRD that is already there (ours or
 * upstream's, installed by anyone) is used as it is; otherwise ours is
 * installed, or upstream's when ours does not exist, with server-side apply so
 * concurrent test files can all call this.
 */
export async function ensureRolloutCrd(): Promise<void> {
  const client = new KubeClient(testKubeConfig());
  try {
    await client.get(CRD_PATH);
  } catch (err) {
    if (!isNotFound(err)) throw err;
    const crd = existsSync(OUR_CRD)
      ? OUR_CRD
      : upstreamPath('argo-rollouts', 'manifests/crds/rollout-crd.yaml');
    const manifest = parse(readFileSync(crd, 'utf8'));
    await client.request(CRD_PATH, {
      method: 'PATCH',
      body: manifest,
      contentType: APPLY_PATCH,
      query: { fieldManager: 'kanary-cli-tests', force: true },
    });
  }
  await waitUntil('Rollout CRD established', async () => {
    const crd = await client.get<{ status?: { conditions?: { type: string; status: string }[] } }>(CRD_PATH);
    return crd.status?.conditions?.some((c) => c.type === 'Established' && c.status === 'True');
  });
}

/**
 * Label that keeps a Rollout away from controllers started without the same
 * instance id (Argo Rollouts and Kanary skip such objects), so the state these
 * tests write by hand is not reconciled away under them.
 */
export const NOT_FOR_CONTROLLERS = { 'argo-rollouts.argoproj.io/controller-instance-id': 'kanary-cli-tests' };

/** A canary Rollout with four steps, as a user would apply it. */
export function canaryRollout(name: string, namespace: string, image = 'example/app:1'): Rollout {
  return {
    apiVersion: 'argoproj.io/v1alpha1',
    kind: 'Rollout',
    metadata: { name, namespace, labels: { ...NOT_FOR_CONTROLLERS } },
    spec: {
      replicas: 2,
      selector: { matchLabels: { app: name } },
      template: {
        metadata: { labels: { app: name } },
        spec: { containers: [{ name: 'web', image }] },
      },
      strategy: {
        canary: {
          steps: [{ setWeight: 20 }, { pause: {} }, { setWeight: 50 }, { pause: { duration: '10s' } }],
        },
      },
    },
  };
}

export class Api {
  readonly client = new KubeClient(testKubeConfig());
  readonly namespace: string;
  constructor(namespace: string) {
    this.namespace = namespace;
  }
  path(name?: string, sub?: string): string {
    return resourcePath(RESOURCES.rollouts, this.namespace, name, sub);
  }
  create(ro: Rollout): Promise<Rollout> {
    return this.client.create(this.path(), ro);
  }
  get(name: string): Promise<Rollout> {
    return this.client.get(this.path(name));
  }
  mergePatch(name: string, patch: unknown, sub?: 'status'): Promise<Rollout> {
    return this.client.patch(this.path(name, sub), patch, MERGE_PATCH);
  }
  jsonPatch(name: string, ops: unknown[]): Promise<Rollout> {
    return this.client.patch(this.path(name), ops, JSON_PATCH);
  }
  replace(ro: Rollout): Promise<Rollout> {
    return this.client.request(this.path(ro.metadata.name), { method: 'PUT', body: ro });
  }
  /** Creates the Rollout and gives it the status a controller would have written. */
  async createWithStatus(ro: Rollout, status: Rollout['status']): Promise<Rollout> {
    const created = await this.create(ro);
    return this.mergePatch(
      ro.metadata.name ?? '',
      { status: { observedGeneration: String(created.metadata.generation), ...status } },
      'status',
    );
  }
}

/** The status of a canary Rollout that its controller has paused at the `pause: {}` step. */
export function pausedAtStepStatus(): Rollout['status'] {
  return {
    phase: 'Paused',
    message: 'CanaryPauseStep',
    currentStepIndex: 1,
    currentPodHash: 'newhash',
    stableRS: 'oldhash',
    controllerPause: true,
    pauseConditions: [{ reason: 'CanaryPauseStep', startTime: '2026-01-15T12:00:00Z' }],
    replicas: 3,
    updatedReplicas: 1,
    readyReplicas: 3,
    availableReplicas: 3,
  };
}

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs the kanary CLI as a user would (bin/kanary.js), against the test cluster unless told otherwise. */
export function kanary(
  args: string[],
  opts: { env?: NodeJS.ProcessEnv; kubeconfig?: string | null } = {},
): Promise<CliResult> {
  const kubeArgs = opts.kubeconfig === null ? [] : ['--kubeconfig', opts.kubeconfig ?? KUBECONFIG];
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [join(ROOT, 'bin', 'kanary.js'), ...args, ...kubeArgs], {
      cwd: ROOT,
      env: { ...process.env, NO_COLOR: '1', ...opts.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => {
      stdout += d.toString();
    });
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
    });
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/** Starts the CLI and lets the test read its output while it runs (for commands that wait). */
export function startKanary(args: string[]): {
  child: ChildProcess;
  stdout: () => string;
  done: Promise<CliResult>;
} {
  const child = spawn(
    process.execPath,
    [join(ROOT, 'bin', 'kanary.js'), ...args, '--kubeconfig', KUBECONFIG],
    {
      cwd: ROOT,
      env: { ...process.env, NO_COLOR: '1' },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (d: Buffer) => {
    stdout += d.toString();
  });
  child.stderr?.on('data', (d: Buffer) => {
    stderr += d.toString();
  });
  const done = new Promise<CliResult>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
  return { child, stdout: () => stdout, done };
}

/** spec and status, the parts of a Rollout that commands change, for comparing two Rollouts. */
export function state(ro: Rollout): { spec: unknown; status: unknown } {
  const name = ro.metadata.name ?? '';
  // the two twins differ only by name, which also appears in their selector and labels
  const rename = (v: unknown) => JSON.parse(JSON.stringify(v ?? null).replaceAll(name, 'NAME'));
  return { spec: rename(ro.spec), status: rename(ro.status) };
}
