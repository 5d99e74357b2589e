import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseAllDocuments } from 'yaml';
import { APPLY_PATCH, isNotFound, type KubeClient } from './client.ts';

/** deploy/crds of this checkout or package (this file is src/kube/crds.ts) */
export const crdDir = join(import.meta.dirname, '..', '..', 'deploy', 'crds');

interface Crd {
  metadata: { name: string; labels?: Record<string, string> };
  status?: { conditions?: { type: string; status: string }[] };
}

/** The label on every CRD in deploy/crds; a CRD without it was installed by someone else. */
export const PART_OF_LABEL = 'app.kubernetes.io/part-of';
const isKanarys = (crd: Crd) => crd.metadata.labels?.[PART_OF_LABEL] === 'kanary';

/** Kanary's CRDs from deploy/crds, as objects. */
export function kanaryCrds(dir = crdDir): Crd[] {
  return readdirSync(dir)
    .filter((f) => f.endsWith('.yaml'))
    .sort()
    .flatMap((f) => parseAllDocuments(readFileSync(join(dir, f), 'utf8')).map((d) => d.toJS() as Crd))
    .filter(Boolean);
}

const crdPath = (name: string) => `/apis/apiextensions.k8s.io/v1/customresourcedefinitions/${name}`;

/**
 * Installs (server-side apply) CRDs and waits until the API server serves them.
 * Idempotent; `force` takes over fields another manager owns on a CRD that
 * is Kanary's. One of Kanary's own CRDs (labelled part-of: kanary) never
 * replaces a CRD of the same name that someone else installed (Argo Rollouts'
 * own, e.g.): every CRD of ours accepts the same objects as Argo's, so the one
 * in place is kept and its name returned in `kept`. Other CRDs (Argo's, passed
 * in by a test harness) are always applied.
 */
export async function installCrds(
  client: KubeClient,
  crds: Crd[] = kanaryCrds(),
  timeoutMs = 30_000,
): Promise<{ kept: string[] }> {
  const kept: string[] = [];
  for (const crd of crds) {
    if (isKanarys(crd)) {
      const live = await client.get<Crd>(crdPath(crd.metadata.name)).catch((err) => {
        if (isNotFound(err)) return undefined;
        throw err;
      });
      if (live && !isKanarys(live)) {
        kept.push(crd.metadata.name);
        continue;
      }
    }
    await client.request(crdPath(crd.metadata.name), {
      method: 'PATCH',
      body: crd,
      contentType: APPLY_PATCH,
      query: { fieldManager: 'kanary', force: true },
    });
  }
  const deadline = Date.now() + timeoutMs;
  for (const crd of crds) {
    for (;;) {
      const live = await client.get<Crd>(crdPath(crd.metadata.name));
      if (live.status?.conditions?.some((c) => c.type === 'Established' && c.status === 'True')) break;
      if (Date.now() > deadline)
        throw new Error(`CRD ${crd.metadata.name} not established after ${timeoutMs / 1000}s`);
      await sleep(100);
    }
  }
  return { kept };
}
