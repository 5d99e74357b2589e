import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseAllDocuments } from 'yaml';
import { repoRoot } from '../cluster/paths.ts';
import { APPLY_PATCH, type KubeClient } from './client.ts';

export const crdDir = join(repoRoot, 'deploy', 'crds');

interface Crd {
  metadata: { name: string };
  status?: { conditions?: { type: string; status: string }[] };
}

/** Kanary's CRDs from deploy/crds, as objects. */
export function kanaryCrds(dir = crdDir): Crd[] {
  return readdirSync(dir)
    .filter((f) => f.endsWith('.yaml'))
    .sort()
    .flatMap((f) => parseAllDocuments(readFileSync(join(dir, f), 'utf8')).map((d) => d.toJS() as Crd));
}

/**
 * Installs (server-side apply) CRDs and waits until the API server serves them.
 * Idempotent; `force` takes over fields another manager (e.g. an Argo install) owns.
 */
export async function installCrds(
  client: KubeClient,
  crds: Crd[] = kanaryCrds(),
  timeoutMs = 30_000,
): Promise<void> {
  for (const crd of crds) {
    await client.request(`/apis/apiextensions.k8s.io/v1/customresourcedefinitions/${crd.metadata.name}`, {
      method: 'PATCH',
      body: crd,
      contentType: APPLY_PATCH,
      query: { fieldManager: 'kanary', force: true },
    });
  }
  const deadline = Date.now() + timeoutMs;
  for (const crd of crds) {
    for (;;) {
      const live = await client.get<Crd>(
        `/apis/apiextensions.k8s.io/v1/customresourcedefinitions/${crd.metadata.name}`,
      );
      if (live.status?.conditions?.some((c) => c.type === 'Established' && c.status === 'True')) break;
      if (Date.now() > deadline)
        throw new Error(`CRD ${crd.metadata.name} not established after ${timeoutMs / 1000}s`);
      await sleep(100);
    }
  }
}
