import assert from 'node:assert/strict';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import type {
  AnalysisRun,
  Experiment,
  Pod,
  ReplicaSet,
  Rollout,
  RolloutObjects,
} from '../../../src/client/types.ts';
import { upstreamPath } from '../../support/upstream.ts';

/** Argo Rollouts' CLI fixtures (pkg/kubectl-argo-rollouts), read in place from the pinned module. */
export const INFO_TESTDATA = upstreamPath('argo-rollouts', 'pkg/kubectl-argo-rollouts/info/testdata');
export const LINT_TESTDATA = upstreamPath('argo-rollouts', 'pkg/kubectl-argo-rollouts/cmd/lint/testdata');
const GOLDEN_DIR = join(import.meta.dirname, '..', '..', 'golden', 'cli');

/** A fixed clock for snapshots: every fixture object is made exactly one week old, as upstream's tests do. */
export const NOW = Date.parse('2026-01-15T12:00:00Z');
export const A_WEEK_AGO = new Date(NOW - 7 * 24 * 3600 * 1000).toISOString().replace(/\.\d+Z$/, 'Z');

export interface FixtureSet {
  rollouts: Rollout[];
  replicaSets: ReplicaSet[];
  pods: Pod[];
  experiments: Experiment[];
  analysisRuns: AnalysisRun[];
}

/** Loads every object of one info-testdata folder, with creation and measurement times set to a week before NOW. */
export function loadInfoFixtures(folder: string): FixtureSet {
  const set: FixtureSet = { rollouts: [], replicaSets: [], pods: [], experiments: [], analysisRuns: [] };
  const dir = join(INFO_TESTDATA, folder);
  for (const file of readdirSync(dir).sort()) {
    if (!/\.ya?ml$/.test(file)) continue;
    for (const doc of parseAllDocuments(readFileSync(join(dir, file), 'utf8'))) {
      const obj = doc.toJS() as { kind?: string; metadata: { creationTimestamp?: string } } | null;
      if (!obj?.kind) continue;
      obj.metadata.creationTimestamp = A_WEEK_AGO;
      switch (obj.kind) {
        case 'Rollout':
          set.rollouts.push(obj as Rollout);
          break;
        case 'ReplicaSet':
          set.replicaSets.push(obj as ReplicaSet);
          break;
        case 'Pod':
          set.pods.push(obj as Pod);
          break;
        case 'Experiment':
          set.experiments.push(obj as Experiment);
          break;
        case 'AnalysisRun':
          for (const r of (obj as AnalysisRun).status?.metricResults ?? []) {
            for (const m of r.measurements ?? []) {
              m.startedAt = A_WEEK_AGO;
              m.finishedAt = A_WEEK_AGO;
            }
          }
          set.analysisRuns.push(obj as AnalysisRun);
          break;
      }
    }
  }
  return set;
}

export function objectsFor(set: FixtureSet, rolloutName: string): RolloutObjects {
  const rollout = set.rollouts.find((r) => r.metadata.name === rolloutName);
  assert.ok(rollout, `fixture has no rollout ${rolloutName}`);
  return {
    rollout,
    replicaSets: set.replicaSets,
    pods: set.pods,
    experiments: set.experiments,
    analysisRuns: set.analysisRuns,
  };
}

/**
 * Compares `actual` with test/golden/cli/<name>; UPDATE_GOLDEN=1 rewrites the
 * file instead (review the diff by eye before committing it).
 */
export function assertGolden(name: string, actual: string): void {
  const path = join(GOLDEN_DIR, name);
  if (process.env.UPDATE_GOLDEN === '1') {
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, actual);
    return;
  }
  let expected: string;
  try {
    expected = readFileSync(path, 'utf8');
  } catch {
    assert.fail(`golden file ${path} is missing; run with UPDATE_GOLDEN=1 to create it`);
  }
  assert.equal(actual, expected, `output differs from golden ${name} (UPDATE_GOLDEN=1 rewrites it)`);
}
