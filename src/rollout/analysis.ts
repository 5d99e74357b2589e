/**
 * The canary `analysis` step, as Argo Rollouts v1.10 runs it
 * (rollout/analysis.go reconcileAnalysisRuns / reconcileStepBasedAnalysisRun,
 * utils/analysis/factory.go and helpers.go): the AnalysisRun a step creates
 * from its templates, which runs are current, which are terminated, and what
 * the run's phase does to the Rollout (Successful: the step completes;
 * Failed/Error: abort; Inconclusive: pause). Pure: the shell observes the
 * runs and templates and carries out the create/terminate actions.
 *
 * Background analysis (`strategy.canary.analysis`, reconcileBackgroundAnalysisRun)
 * runs beside the steps from `startingStep` until the Rollout is fully
 * promoted; and runs no longer current are garbage-collected as Argo does
 * (FilterAnalysisRunsToDelete: `spec.analysis.successfulRunHistoryLimit` /
 * `unsuccessfulRunHistoryLimit`, 5 each by default).
 */
import type { V1ReplicaSet } from '@kubernetes/client-node';
import { resolveMetricArgs } from '../analysis/args.ts';
import type { Argument, Metric } from '../analysis/types.ts';
import { effectiveCount } from '../analysis/validate.ts';
import {
  goQuote,
  INSTANCE_ID_LABEL,
  POD_TEMPLATE_HASH_LABEL,
  REVISION_ANNOTATION,
} from '../api/constants.ts';
import { type FieldError, invalid } from '../api/field-error.ts';
import type { Rollout } from '../api/types.ts';
import { type Ctx, event, isAborted, PassError, statusOf } from './context.ts';
import { deepEqual } from './json.ts';
import { availableReplicas, hashOf, isSaturated, rolloutControllerRef, specReplicas } from './replicasets.ts';
import { currentStep, stepsOf } from './steps.ts';

export const ROLLOUT_TYPE_LABEL = 'rollout-type';
export const STEP_INDEX_LABEL = 'step-index';
export const INCONCLUSIVE_PAUSE = 'InconclusiveAnalysisRun';
/** Argo's defaults for spec.analysis.{successful,unsuccessful}RunHistoryLimit */
export const DEFAULT_SUCCESSFUL_RUN_HISTORY_LIMIT = 5;
export const DEFAULT_UNSUCCESSFUL_RUN_HISTORY_LIMIT = 5;

/** The fields of an AnalysisRun the planner reads (the shell's cache keeps only these). */
export interface ObservedRun {
  metadata: {
    name: string;
    namespace?: string;
    uid?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
    ownerReferences?: { uid?: string; controller?: boolean; kind?: string; name?: string }[];
    creationTimestamp?: string;
    deletionTimestamp?: string;
  };
  spec?: {
    metrics?: Metric[];
    args?: Argument[];
    dryRun?: { metricName: string }[];
    measurementRetention?: { metricName: string; limit: number }[];
    terminate?: boolean;
  };
  status?: { phase?: string; message?: string };
}

/** AnalysisTemplate / ClusterAnalysisTemplate as the planner reads them. */
export interface AnalysisTemplateObject {
  metadata: { name: string; namespace?: string };
  spec?: {
    metrics?: Metric[];
    args?: Argument[];
    dryRun?: { metricName: string }[];
    measurementRetention?: { metricName: string; limit: number }[];
    templates?: TemplateRef[];
  };
}

export interface TemplateRef {
  templateName?: string;
  clusterScope?: boolean;
}

/** A step's `analysis` (Argo's RolloutAnalysis). */
export interface RolloutAnalysis {
  templates?: TemplateRef[];
  args?: RunArgument[];
  dryRun?: { metricName: string }[];
  measurementRetention?: { metricName: string; limit: number }[];
  analysisRunMetadata?: { labels?: Record<string, string>; annotations?: Record<string, string> };
}

/** AnalysisRunArgument: a value, or where to take it from. */
export interface RunArgument {
  name: string;
  value?: string;
  valueFrom?: { podTemplateHashValue?: 'Stable' | 'Latest' | string; fieldRef?: { fieldPath?: string } };
}

export interface AnalysisObjects {
  /** every AnalysisRun in the Rollout's namespace (ours or not: names must not collide) */
  runs: ObservedRun[];
  /** the namespace's AnalysisTemplates by name */
  templates: Record<string, AnalysisTemplateObject | undefined>;
  clusterTemplates: Record<string, AnalysisTemplateObject | undefined>;
}

/** status.canary.currentStepAnalysisRunStatus */
export interface RunStatusRef {
  name: string;
  status: string;
  message?: string;
}

export interface AnalysisRunManifest {
  apiVersion: 'argoproj.io/v1alpha1';
  kind: 'AnalysisRun';
  metadata: {
    name: string;
    namespace?: string;
    labels: Record<string, string>;
    annotations: Record<string, string>;
    ownerReferences: ReturnType<typeof rolloutControllerRef>[];
  };
  spec: {
    metrics: Metric[];
    args?: Argument[];
    dryRun?: { metricName: string }[];
    measurementRetention?: { metricName: string; limit: number }[];
  };
}

const COMPLETED = new Set(['Successful', 'Failed', 'Error', 'Inconclusive']);
const isCompleted = (phase: string | undefined) => COMPLETED.has(phase ?? '');

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

export const stepAnalysisOf = (step: unknown): RolloutAnalysis | undefined =>
  isObject(step) && isObject(step.analysis) ? (step.analysis as RolloutAnalysis) : undefined;

/** `strategy.canary.analysis` (Argo's RolloutAnalysisBackground): a RolloutAnalysis and `startingStep`. */
export type BackgroundAnalysis = RolloutAnalysis & { startingStep?: number };

export const backgroundAnalysisOf = (r: Rollout): BackgroundAnalysis | undefined => {
  const a = (r?.spec?.strategy?.canary as { analysis?: unknown } | undefined)?.analysis;
  return isObject(a) ? (a as BackgroundAnalysis) : undefined;
};

export const BACKGROUND_TEMPLATES_PATH = 'spec.strategy.canary.analysis.templates';

const BLUE_GREEN_HOOKS = ['prePromotionAnalysis', 'postPromotionAnalysis'] as const;
type BlueGreenHook = (typeof BLUE_GREEN_HOOKS)[number];

/** `strategy.blueGreen.prePromotionAnalysis` / `postPromotionAnalysis` (a RolloutAnalysis), if set. */
export const blueGreenAnalysisOf = (r: Rollout, hook: BlueGreenHook): RolloutAnalysis | undefined => {
  const a = (r?.spec?.strategy?.blueGreen as Record<string, unknown> | undefined)?.[hook];
  return isObject(a) ? (a as RolloutAnalysis) : undefined;
};

// ---- templates ----

export class AnalysisError extends Error {
  override readonly name = 'AnalysisError';
}

/** The templates a list of refs names, nested ones included, each once (getAnalysisTemplatesFromRefs). */
export function resolveTemplateRefs(
  refs: readonly TemplateRef[],
  objects: Pick<AnalysisObjects, 'templates' | 'clusterTemplates'>,
  path: string,
  depth = 0,
  missingIsError = true,
): { templates: AnalysisTemplateObject[]; clusterTemplates: AnalysisTemplateObject[] } | FieldError {
  const templates: AnalysisTemplateObject[] = [];
  const clusterTemplates: AnalysisTemplateObject[] = [];
  if (depth > 16) return invalid(path, goQuote(''), 'nested templates are more than 16 levels deep');
  for (const ref of refs) {
    const name = ref?.templateName ?? '';
    const cluster = Boolean(ref?.clusterScope);
    const found = cluster ? objects.clusterTemplates[name] : objects.templates[name];
    if (!found && !missingIsError) continue;
    if (!found) {
      const kind = cluster ? 'ClusterAnalysisTemplate' : 'AnalysisTemplate';
      return invalid(path, goQuote(name), `${kind} '${name}' not found`);
    }
    (cluster ? clusterTemplates : templates).push(found);
    const inner = found.spec?.templates;
    if (Array.isArray(inner) && inner.length > 0) {
      const nested = resolveTemplateRefs(inner, objects, 'spec.templates', depth + 1, missingIsError);
      if (!('templates' in nested)) return nested;
      clusterTemplates.push(...nested.clusterTemplates);
      templates.push(...nested.templates);
    }
  }
  const unique = (list: AnalysisTemplateObject[]) =>
    list.filter((t, i) => list.findIndex((u) => u.metadata.name === t.metadata.name) === i);
  return { templates: unique(templates), clusterTemplates: unique(clusterTemplates) };
}

function uniqueBy<T>(list: T[], key: (t: T) => string, what: string): T[] {
  const seen = new Set<string>();
  for (const x of list) {
    const k = key(x);
    if (seen.has(k)) throw new AnalysisError(`two ${what} have the same name '${k}'`);
    seen.add(k);
  }
  return list;
}

/** flattenArgs: the same argument from two templates must agree; a value beats none. */
function flattenArgs(all: AnalysisTemplateObject[]): Argument[] {
  const combined: Argument[] = [];
  for (const t of all) {
    for (const arg of t.spec?.args ?? []) {
      const i = combined.findIndex((a) => a.name === arg.name);
      if (i < 0) {
        combined.push({ ...arg });
        continue;
      }
      const prev = combined[i] as Argument;
      if (prev.value !== undefined && arg.value !== undefined && prev.value !== arg.value) {
        throw new AnalysisError(
          `Argument \`${arg.name}\` specified multiple times with different values: '${prev.value}', '${arg.value}'`,
        );
      }
      if (prev.value === undefined) combined[i] = { ...arg };
    }
  }
  return combined;
}

/** MergeArgs: the step's values replace the templates'; every argument must end up with one. */
function mergeArgs(incoming: Argument[], fromTemplates: Argument[]): Argument[] {
  const merged = fromTemplates.map((a) => ({ ...a }));
  for (const arg of incoming) {
    const target = merged.find((a) => a.name === arg.name);
    if (!target) continue;
    if (arg.value !== undefined) target.value = arg.value;
    else if (arg.valueFrom !== undefined) target.valueFrom = arg.valueFrom;
  }
  for (const a of merged) {
    if (a.value === undefined && a.valueFrom === undefined)
      throw new AnalysisError(`args.${a.name} was not resolved`);
  }
  return merged;
}

/**
 * A template's metric as Argo writes it into a run (the metric goes through
 * Go's types): the web and prometheus providers' `authentication` is a
 * struct, not a pointer, so it is always there, with its `sigv4` and
 * `oauth2` structs, `{}` when not set.
 */
function asGoWritesIt(m: Metric): Metric {
  const provider = m?.provider;
  if (!isObject(provider)) return m;
  const out: Record<string, unknown> = { ...provider };
  for (const kind of ['web', 'prometheus'] as const) {
    const p = provider[kind];
    if (!isObject(p)) continue;
    const auth = isObject(p.authentication) ? p.authentication : {};
    out[kind] = {
      ...p,
      authentication: {
        ...auth,
        sigv4: isObject(auth.sigv4) ? auth.sigv4 : {},
        oauth2: isObject(auth.oauth2) ? auth.oauth2 : {},
      },
    };
  }
  return { ...m, provider: out as Metric['provider'] };
}

/** NewAnalysisRunFromTemplates' spec: metrics, args, dryRun and measurementRetention merged. */
export function mergeTemplates(
  templates: AnalysisTemplateObject[],
  clusterTemplates: AnalysisTemplateObject[],
  args: Argument[],
  dryRun: { metricName: string }[] = [],
  measurementRetention: { metricName: string; limit: number }[] = [],
): AnalysisRunManifest['spec'] {
  const all = [...templates, ...clusterTemplates];
  const metrics = uniqueBy(
    all.flatMap((t) => t.spec?.metrics ?? []),
    (m) => m.name,
    'metrics',
  ).map(asGoWritesIt);
  const tmplDryRun = uniqueBy(
    all.flatMap((t) => t.spec?.dryRun ?? []),
    (d) => d.metricName,
    'Dry-Run metric rules',
  );
  const tmplRetention = uniqueBy(
    all.flatMap((t) => t.spec?.measurementRetention ?? []),
    (d) => d.metricName,
    'Measurement Retention metric rules',
  );
  const mergedArgs = mergeArgs(args, flattenArgs(all));
  const spec: AnalysisRunManifest['spec'] = { metrics };
  if (mergedArgs.length) spec.args = mergedArgs;
  const d = uniqueBy([...dryRun, ...tmplDryRun], (x) => x.metricName, 'Dry-Run metric rules');
  if (d.length) spec.dryRun = d;
  const m = uniqueBy(
    [...measurementRetention, ...tmplRetention],
    (x) => x.metricName,
    'Measurement Retention metric rules',
  );
  if (m.length) spec.measurementRetention = m;
  return spec;
}

// ---- arguments ----

/** fieldpath.ExtractFieldPathAsString for the metadata paths Kubernetes supports. */
function metadataField(r: Rollout, path: string): string {
  const m = r.metadata ?? {};
  const sub = /^metadata\.(labels|annotations)\['(.*)'\]$/.exec(path);
  if (sub) {
    const map = (sub[1] === 'labels' ? m.labels : m.annotations) ?? {};
    return map[sub[2] as string] ?? '';
  }
  switch (path) {
    case 'metadata.name':
      return m.name ?? '';
    case 'metadata.namespace':
      return m.namespace ?? '';
    case 'metadata.uid':
      return m.uid ?? '';
    default:
      throw new AnalysisError(`unsupported fieldPath: ${path}`);
  }
}

/** extractValueFromRollout: a dotted/indexed path into the Rollout that ends in a primitive. */
function rolloutField(r: Rollout, path: string): string {
  let v: unknown = JSON.parse(JSON.stringify(r));
  for (const section of path.split(/[.[\]]+/)) {
    if (section === '') continue;
    if (Array.isArray(v)) {
      if (!/^[+-]?\d+$/.test(section)) throw new AnalysisError(`invalid index '${section}'`);
      const i = Number(section);
      if (i >= v.length) throw new AnalysisError(`index ${i} out of range`);
      v = v[i];
    } else if (isObject(v)) v = v[section];
    else throw new AnalysisError(`invalid path ${path} in rollout`);
  }
  if (v === undefined || v === null) throw new AnalysisError(`invalid path ${path} in rollout`);
  if (typeof v === 'object')
    throw new AnalysisError(`path ${path} in rollout must terminate in a primitive value`);
  return String(v);
}

/** BuildArgumentsForRolloutAnalysisRun */
export function buildRunArguments(
  args: readonly RunArgument[],
  stableRS: V1ReplicaSet | undefined,
  newRS: V1ReplicaSet | undefined,
  r: Rollout,
): Argument[] {
  return args.map((arg) => {
    let value = arg.value ?? '';
    const from = arg.valueFrom;
    if (from?.podTemplateHashValue) {
      if (from.podTemplateHashValue === 'Latest') value = hashOf(newRS);
      else if (from.podTemplateHashValue === 'Stable') value = hashOf(stableRS);
    } else if (from?.fieldRef) {
      const path = from.fieldRef.fieldPath ?? '';
      value = path.startsWith('metadata') ? metadataField(r, path) : rolloutField(r, path);
    }
    return { name: arg.name, value };
  });
}

// ---- validation (the controller's InvalidSpec, and lint) ----

/** Every RolloutAnalysis of the Rollout with its field path, in Argo's order: the steps, then background. */
function analysesOf(r: Rollout): { analysis: RolloutAnalysis; path: string; background: boolean }[] {
  const out: { analysis: RolloutAnalysis; path: string; background: boolean }[] = [];
  const blueGreen = r?.spec?.strategy?.blueGreen as Record<string, unknown> | undefined;
  if (isObject(blueGreen)) {
    // getReferencedRolloutAnalyses: for blue-green only its two hooks (both bounded, like a step)
    for (const hook of BLUE_GREEN_HOOKS) {
      const analysis = blueGreen[hook];
      if (isObject(analysis))
        out.push({
          analysis: analysis as RolloutAnalysis,
          path: `spec.strategy.blueGreen.${hook}.templates`,
          background: false,
        });
    }
    return out;
  }
  const steps = stepsOf(r);
  for (let i = 0; i < steps.length; i++) {
    const analysis = stepAnalysisOf(steps[i]);
    if (analysis)
      out.push({ analysis, path: `spec.strategy.canary.steps[${i}].analysis.templates`, background: false });
  }
  const background = backgroundAnalysisOf(r);
  if (background) out.push({ analysis: background, path: BACKGROUND_TEMPLATES_PATH, background: true });
  return out;
}

/**
 * The first analysis template (of a step or the background analysis) that
 * does not exist (`AnalysisTemplate 'x' not found`).
 */
export function missingStepTemplate(
  r: Rollout,
  objects: Pick<AnalysisObjects, 'templates' | 'clusterTemplates'>,
): FieldError | undefined {
  for (const { analysis, path } of analysesOf(r)) {
    const found = resolveTemplateRefs(analysis.templates ?? [], objects, path);
    if (!('templates' in found)) return found;
  }
  return undefined;
}

/** The checks of the analysis templates, in the shape validateRolloutReferences takes. */
export function stepAnalysisChecks(
  r: Rollout,
  objects: Pick<AnalysisObjects, 'templates' | 'clusterTemplates'>,
  opts: { missingIsError?: boolean } = {},
): { missing(): FieldError | undefined; invalid(): FieldError | undefined } {
  const missingIsError = opts.missingIsError ?? true;
  return {
    missing: () => (missingIsError ? missingStepTemplate(r, objects) : undefined),
    invalid: () => validateStepAnalysisReferences(r, objects, { missingIsError }),
  };
}

/**
 * ValidateAnalysisTemplatesWithType for every analysis step and the
 * background analysis: the templates exist, merge, and (for a step, which
 * waits for the run to complete) measure a bounded number of times. The
 * first error, or undefined.
 */
export function validateStepAnalysisReferences(
  r: Rollout,
  objects: Pick<AnalysisObjects, 'templates' | 'clusterTemplates'>,
  opts: { missingIsError?: boolean } = {},
): FieldError | undefined {
  const missingIsError = opts.missingIsError ?? true;
  for (const { analysis, path, background } of analysesOf(r)) {
    const refs = analysis.templates ?? [];
    const found = resolveTemplateRefs(refs, objects, path, 0, missingIsError);
    if (!('templates' in found)) return found;
    // lint: a step whose templates are not all in the file cannot be merged, only the ones found checked
    const complete = found.templates.length + found.clusterTemplates.length >= refs.length;
    const names = [...found.templates, ...found.clusterTemplates].map((t) => t.metadata.name);
    const value = `templateNames: [${names.join(' ')}]`;
    if (complete)
      try {
        const dummy = (hash: string) => ({ metadata: { labels: { [POD_TEMPLATE_HASH_LABEL]: hash } } });
        let args: Argument[] = [];
        try {
          args = buildRunArguments(
            analysis.args ?? [],
            dummy('dummy-stable-hash'),
            dummy('dummy-new-hash'),
            r,
          );
        } catch {
          // Argo validates with whatever arguments could be built; the run creation reports the error
        }
        mergeTemplates(
          found.templates,
          found.clusterTemplates,
          args,
          analysis.dryRun,
          analysis.measurementRetention,
        );
      } catch (e) {
        return invalid(path, goQuote(value), (e as Error).message);
      }
    // a background run may measure indefinitely: it is terminated when the Rollout is promoted
    if (background) continue;
    for (const t of [...found.templates, ...found.clusterTemplates]) {
      const err = templateRunsBounded(t, path);
      if (err) return err;
    }
  }
  return undefined;
}

/** ValidateAnalysisTemplateWithType for a step: args resolvable with placeholders, every count finite. */
function templateRunsBounded(t: AnalysisTemplateObject, path: string): FieldError | undefined {
  const name = t.metadata.name;
  const args: Argument[] = [];
  for (const a of t.spec?.args ?? []) {
    if (a.valueFrom && a.value !== undefined) {
      return invalid(
        path,
        goQuote(name),
        `AnalysisTemplate ${name}: arg '${a.name}' has both Value and ValueFrom fields`,
      );
    }
    args.push({ name: a.name, value: a.value ?? 'dummy-value' });
  }
  for (const metric of t.spec?.metrics ?? []) {
    const resolved = resolveMetricArgs(metric, args);
    if (resolved instanceof Error)
      return invalid(path, goQuote(name), `AnalysisTemplate ${name}: ${resolved.message}`);
    if (effectiveCount(resolved) === undefined) {
      const count = resolved.count === undefined ? '<nil>' : String(resolved.count);
      return invalid(
        path,
        goQuote(name),
        `AnalysisTemplate ${name} has metric ${resolved.name} which runs indefinitely. Invalid value for count: ${count}`,
      );
    }
  }
  return undefined;
}

// ---- the runs ----

export interface CurrentRuns {
  step?: ObservedRun;
  background?: ObservedRun;
  prePromotion?: ObservedRun;
  postPromotion?: ObservedRun;
}

/**
 * FilterCurrentRolloutAnalysisRuns: of the runs we own, those the status
 * names (status.canary.currentStepAnalysisRunStatus /
 * currentBackgroundAnalysisRunStatus) are current, the rest are others.
 */
function ownedRuns(ctx: Ctx): { current: CurrentRuns; others: ObservedRun[] } {
  const uid = ctx.r.metadata.uid;
  const owned = ctx.analysis.runs.filter((run) =>
    run.metadata.ownerReferences?.some((o) => o.controller && o.uid === uid),
  );
  const { canary, blueGreen } = statusOf(ctx);
  const stepRef = canary?.currentStepAnalysisRunStatus as RunStatusRef | undefined;
  const bgRef = canary?.currentBackgroundAnalysisRunStatus as RunStatusRef | undefined;
  const preRef = blueGreen?.prePromotionAnalysisRunStatus;
  const postRef = blueGreen?.postPromotionAnalysisRunStatus;
  const current: CurrentRuns = {};
  const others: ObservedRun[] = [];
  for (const run of owned) {
    const name = run.metadata.name;
    if (stepRef?.name && name === stepRef.name) current.step = run;
    else if (bgRef?.name && name === bgRef.name) current.background = run;
    else if (preRef?.name && name === preRef.name) current.prePromotion = run;
    else if (postRef?.name && name === postRef.name) current.postPromotion = run;
    else others.push(run);
  }
  return { current, others };
}

/**
 * Argo's c.currentArs: the runs the observed status names, until this pass's
 * reconcileAnalysisRuns replaces them with the runs it created or kept.
 */
export function currentRuns(ctx: Ctx): CurrentRuns {
  if (!ctx.currentRuns) ctx.currentRuns = ownedRuns(ctx).current;
  return ctx.currentRuns;
}

function terminate(ctx: Ctx, run: ObservedRun | undefined): void {
  if (!run || run.spec?.terminate || isCompleted(run.status?.phase)) return;
  if (ctx.actions.some((a) => a.kind === 'patchAnalysisRun' && a.name === run.metadata.name)) return;
  ctx.actions.push({
    kind: 'patchAnalysisRun',
    name: run.metadata.name,
    patch: { spec: { terminate: true } },
  });
}

const pauseConditionOf = (ctx: Ctx, reason: string) =>
  statusOf(ctx).pauseConditions?.find((c) => c.reason === reason);

/** needsNewAnalysisRun */
function needsNewRun(ctx: Ctx, current: ObservedRun | undefined): boolean {
  if (!current) return true;
  const s = statusOf(ctx);
  if (
    s.controllerPause &&
    !pauseConditionOf(ctx, 'CanaryPauseStep') &&
    !pauseConditionOf(ctx, 'BlueGreenPause')
  ) {
    return current.status?.phase === 'Inconclusive';
  }
  return Boolean(s.abortedAt);
}

/** The AnalysisRun a step creates (newAnalysisRunFromRollout), named `<rollout>-<hash>-<revision>-<index>`. */
export function stepAnalysisRun(
  ctx: Pick<Ctx, 'r' | 'stableRS' | 'newRS' | 'analysis'>,
  analysis: RolloutAnalysis,
  index: number,
): AnalysisRunManifest {
  return analysisRunFromRollout(
    ctx,
    analysis,
    String(index),
    { [ROLLOUT_TYPE_LABEL]: 'Step', [STEP_INDEX_LABEL]: String(index) },
    `spec.strategy.canary.steps[${index}].analysis.templates`,
  );
}

/** The background AnalysisRun (BackgroundLabels, no infix): `<rollout>-<hash>-<revision>`. */
export function backgroundAnalysisRun(
  ctx: Pick<Ctx, 'r' | 'stableRS' | 'newRS' | 'analysis'>,
  analysis: RolloutAnalysis,
): AnalysisRunManifest {
  return analysisRunFromRollout(
    ctx,
    analysis,
    '',
    { [ROLLOUT_TYPE_LABEL]: 'Background' },
    BACKGROUND_TEMPLATES_PATH,
  );
}

/**
 * createAnalysisRun + newAnalysisRunFromRollout: args built, templates
 * merged, name `<rollout>-<hash>-<revision>[-<infix>]`, labels (the pod hash,
 * the type's, the instance id, analysisRunMetadata, the Rollout's selector),
 * the revision annotation, the Rollout as controller.
 */
function analysisRunFromRollout(
  ctx: Pick<Ctx, 'r' | 'stableRS' | 'newRS' | 'analysis'>,
  analysis: RolloutAnalysis,
  infix: string,
  typeLabels: Record<string, string>,
  path: string,
): AnalysisRunManifest {
  const r = ctx.r;
  // GetInstanceID: the Rollout's own label
  const instanceId = r.metadata.labels?.[INSTANCE_ID_LABEL];
  const args = buildRunArguments(analysis.args ?? [], ctx.stableRS, ctx.newRS, r);
  const podHash = hashOf(ctx.newRS);
  if (!podHash)
    throw new AnalysisError(
      `Latest ReplicaSet '${ctx.newRS?.metadata?.name ?? ''}' has no pod hash in the labels`,
    );
  const revision = r.metadata.annotations?.[REVISION_ANNOTATION] ?? '';
  const found = resolveTemplateRefs(analysis.templates ?? [], ctx.analysis, path);
  if (!('templates' in found)) throw new AnalysisError(found.detail);
  const labels: Record<string, string> = { [POD_TEMPLATE_HASH_LABEL]: podHash, ...typeLabels };
  if (instanceId) labels[INSTANCE_ID_LABEL] = instanceId;
  Object.assign(labels, analysis.analysisRunMetadata?.labels ?? {}, r.spec.selector?.matchLabels ?? {});
  const annotations: Record<string, string> = {
    [REVISION_ANNOTATION]: revision,
    ...(analysis.analysisRunMetadata?.annotations ?? {}),
  };
  const nameParts = [r.metadata.name ?? '', podHash, revision];
  if (infix !== '') nameParts.push(infix);
  return {
    apiVersion: 'argoproj.io/v1alpha1',
    kind: 'AnalysisRun',
    metadata: {
      name: nameParts.join('-'),
      namespace: r.metadata.namespace,
      labels,
      annotations,
      ownerReferences: [rolloutControllerRef(r)],
    },
    spec: mergeTemplates(
      found.templates,
      found.clusterTemplates,
      args,
      analysis.dryRun,
      analysis.measurementRetention,
    ),
  };
}

const semanticSpec = (s: ObservedRun['spec'] | AnalysisRunManifest['spec'] | undefined) => ({
  metrics: s?.metrics ?? [],
  dryRun: s?.dryRun ?? [],
  measurementRetention: s?.measurementRetention ?? [],
  args: s?.args ?? [],
});

/**
 * CreateWithCollisionCounter, decided on the cache: a run of the same name
 * that is ours, still running (not being terminated) and the same is taken
 * as already created; otherwise the name gets `.1`, `.2`, ….
 */
function createRun(ctx: Ctx, manifest: AnalysisRunManifest): ObservedRun {
  const base = manifest.metadata.name;
  const uid = ctx.r.metadata.uid;
  for (let n = 0; n < 1000; n++) {
    const name = n === 0 ? base : `${base}.${n}`;
    const existing = ctx.analysis.runs.find((run) => run.metadata.name === name);
    if (!existing) {
      const run = { ...manifest, metadata: { ...manifest.metadata, name } };
      ctx.actions.push({ kind: 'createAnalysisRun', run });
      const created: ObservedRun = { metadata: run.metadata, spec: run.spec, status: { phase: '' } };
      ctx.analysis.runs = [...ctx.analysis.runs, created];
      return created;
    }
    const ours = existing.metadata.ownerReferences?.some((o) => o.controller && o.uid === uid);
    // Argo would also take a run that is being terminated (spec.terminate set, phase not yet
    // final, e.g. an abort and a retry within a pass of the run controller): its verdict would be
    // `Run Terminated`, which measures nothing, so Kanary takes the next name instead
    if (
      ours &&
      !existing.spec?.terminate &&
      !isCompleted(existing.status?.phase) &&
      deepEqual(semanticSpec(existing.spec), semanticSpec(manifest.spec))
    ) {
      return existing;
    }
  }
  throw new AnalysisError(`no free AnalysisRun name for ${base}`);
}

/** reconcileStepBasedAnalysisRun */
function reconcileStepRun(ctx: Ctx, current: ObservedRun | undefined): ObservedRun | undefined {
  const { step, index } = currentStep(ctx.r);
  const s = statusOf(ctx);
  if ((s.pauseConditions?.length ?? 0) > 0 || s.abort) return current;
  const analysis = stepAnalysisOf(step);
  const fromPreviousStep =
    analysis !== undefined &&
    current !== undefined &&
    current.metadata.labels?.[STEP_INDEX_LABEL] !== String(index);
  if (!analysis || !(analysis.templates?.length ?? 0) || index === undefined || fromPreviousStep) {
    terminate(ctx, current);
    return undefined;
  }
  if (needsNewRun(ctx, current)) {
    try {
      return createRun(ctx, stepAnalysisRun(ctx, analysis, index));
    } catch (e) {
      throw new PassError((e as Error).message);
    }
  }
  const run = current as ObservedRun;
  pauseOrAbort(ctx, run, 'Step-based analysis phase error/failed');
  return run;
}

/** What a current run's phase does to the Rollout: Inconclusive pauses, Failed/Error aborts. */
function pauseOrAbort(ctx: Ctx, run: ObservedRun, abortPrefix: string): void {
  switch (run.status?.phase) {
    case 'Inconclusive':
      if (!ctx.pause.addReasons.includes(INCONCLUSIVE_PAUSE)) ctx.pause.addReasons.push(INCONCLUSIVE_PAUSE);
      break;
    case 'Error':
    case 'Failed': {
      let message = abortPrefix;
      if (run.status?.message) message += `: ${run.status.message}`;
      ctx.pause.addAbort = true;
      ctx.pause.abortMessage = message;
      break;
    }
  }
}

/** BeforeStartingStep: the current step is before `startingStep`. */
function beforeStartingStep(r: Rollout, background: BackgroundAnalysis): boolean {
  const starting = background.startingStep;
  if (typeof starting !== 'number') return false;
  const { index } = currentStep(r);
  if (index === undefined) return false;
  return index < starting;
}

/**
 * reconcileBackgroundAnalysisRun: from `startingStep` on, while the Rollout
 * is not fully promoted, one run of the background templates; it is not held
 * by a pause (a Failed run aborts in the middle of one). After an
 * Inconclusive pause is cleared (promote), a new run is created.
 */
function reconcileBackgroundRun(ctx: Ctx, current: ObservedRun | undefined): ObservedRun | undefined {
  const background = backgroundAnalysisOf(ctx.r);
  if (!background || !(background.templates?.length ?? 0)) {
    terminate(ctx, current);
    return undefined;
  }
  const s = statusOf(ctx);
  const fullyPromoted = (s.stableRS ?? '') === (s.currentPodHash ?? '');
  if (fullyPromoted || !s.stableRS || !s.currentPodHash || beforeStartingStep(ctx.r, background)) {
    return undefined;
  }
  if (pauseConditionOf(ctx, INCONCLUSIVE_PAUSE)) return current;
  if (needsNewRun(ctx, current)) {
    try {
      return createRun(ctx, backgroundAnalysisRun(ctx, background));
    } catch (e) {
      throw new PassError((e as Error).message);
    }
  }
  const run = current as ObservedRun;
  pauseOrAbort(ctx, run, 'Background analysis phase error/failed');
  return run;
}

/** The run a blue-green hook creates: `<rollout>-<hash>-<revision>-pre|-post`, rollout-type PrePromotion|PostPromotion. */
export function blueGreenAnalysisRun(
  ctx: Pick<Ctx, 'r' | 'stableRS' | 'newRS' | 'analysis'>,
  hook: BlueGreenHook,
): AnalysisRunManifest {
  const pre = hook === 'prePromotionAnalysis';
  return analysisRunFromRollout(
    ctx,
    blueGreenAnalysisOf(ctx.r, hook) ?? {},
    pre ? 'pre' : 'post',
    { [ROLLOUT_TYPE_LABEL]: pre ? 'PrePromotion' : 'PostPromotion' },
    `spec.strategy.blueGreen.${hook}.templates`,
  );
}

/**
 * skipPrePromotionAnalysisRun: nothing to analyse before the switch when the
 * new ReplicaSet is already stable or active, on the first deploy (no active
 * selector yet), or (for a run not started yet) while the new ReplicaSet is
 * not saturated — with previewReplicaCount, while it has not exactly that
 * many pods, all available.
 */
export function skipPrePromotion(ctx: Ctx, current: ObservedRun | undefined): boolean {
  const s = statusOf(ctx);
  const hash = hashOf(ctx.newRS);
  const active = s.blueGreen?.activeSelector ?? '';
  if ((s.stableRS ?? '') === hash || active === '' || active === hash || hash === '') return true;
  if (current) return false;
  const preview = ctx.r.spec.strategy?.blueGreen?.previewReplicaCount;
  if (typeof preview === 'number') {
    return specReplicas(ctx.newRS) !== preview || availableReplicas(ctx.newRS) !== preview;
  }
  return !isSaturated(ctx.r, ctx.newRS);
}

/**
 * skipPostPromotionAnalysisRun: nothing to analyse after the switch until the
 * active selector (as the observed status records it) is the new ReplicaSet
 * and while it is stable already; a run not started yet also waits for the
 * new ReplicaSet to be saturated.
 */
export function skipPostPromotion(ctx: Ctx, current: ObservedRun | undefined): boolean {
  const s = statusOf(ctx);
  const hash = hashOf(ctx.newRS);
  const active = s.blueGreen?.activeSelector ?? '';
  if ((s.stableRS ?? '') === hash || active !== hash || hash === '') return true;
  if (current) return false;
  return !isSaturated(ctx.r, ctx.newRS);
}

/**
 * reconcilePrePromotionAnalysisRun / reconcilePostPromotionAnalysisRun: no
 * hook (or no templates) terminates the run; outside its window the run is
 * terminated but stays current (its verdict stays in the status); an
 * inconclusive pause holds it; otherwise a run is created when needed.
 */
function reconcileBlueGreenRun(
  ctx: Ctx,
  hook: BlueGreenHook,
  current: ObservedRun | undefined,
): ObservedRun | undefined {
  const analysis = blueGreenAnalysisOf(ctx.r, hook);
  if (!analysis || !(analysis.templates?.length ?? 0)) {
    terminate(ctx, current);
    return undefined;
  }
  const skip = hook === 'prePromotionAnalysis' ? skipPrePromotion : skipPostPromotion;
  if (skip(ctx, current)) {
    terminate(ctx, current);
    return current;
  }
  if (pauseConditionOf(ctx, INCONCLUSIVE_PAUSE)) return current;
  if (needsNewRun(ctx, current)) {
    try {
      return createRun(ctx, blueGreenAnalysisRun(ctx, hook));
    } catch (e) {
      throw new PassError((e as Error).message);
    }
  }
  return current;
}

/** completedPrePromotionAnalysis: no pre-promotion hook, or its current run is Successful. */
export function completedPrePromotionAnalysis(ctx: Ctx): boolean {
  if (!blueGreenAnalysisOf(ctx.r, 'prePromotionAnalysis')) return true;
  return currentRuns(ctx).prePromotion?.status?.phase === 'Successful';
}

/** emitAnalysisRunStatusChanges for one type of run */
function emitStatusChange(
  ctx: Ctx,
  prev: RunStatusRef | undefined,
  run: ObservedRun | undefined,
  type: 'Step' | 'Background' | 'PrePromotion' | 'PostPromotion',
): void {
  const phase = run?.status?.phase ?? '';
  if (!run || phase === '') return;
  if (prev && !(prev.name === run.metadata.name && prev.status !== phase)) return;
  event(
    ctx,
    `AnalysisRun${phase}`,
    `${type} Analysis Run '${run.metadata.name}' Status New: '${phase}' Previous: '${prev ? prev.status : 'NoPreviousStatus'}'`,
    phase === 'Failed' || phase === 'Error' ? 'Warning' : 'Normal',
  );
}

/**
 * reconcileAnalysisRuns for a canary: cancel the current runs once there is
 * nothing to analyse (promoted, aborted, promote-full, fast rollback, first
 * deploy), otherwise create or read the step's run and the background run;
 * every other run we own is terminated, and the others beyond the history
 * limits are deleted. Records the runs for the status and the step's
 * completion.
 */
export function reconcileAnalysisRuns(ctx: Ctx, fastRollback: boolean): void {
  const s = statusOf(ctx);
  const { current, others } = ownedRuns(ctx);
  const fullyPromoted = (s.stableRS ?? '') === (s.currentPodHash ?? '');
  const cancel = fullyPromoted || isAborted(ctx) || Boolean(s.promoteFull) || fastRollback || !s.stableRS;
  const blueGreen = Boolean(ctx.r.spec.strategy?.blueGreen);
  let stepRun: ObservedRun | undefined;
  let backgroundRun: ObservedRun | undefined;
  let preRun: ObservedRun | undefined;
  let postRun: ObservedRun | undefined;
  if (cancel) {
    for (const run of [current.step, current.background, current.prePromotion, current.postPromotion])
      terminate(ctx, run);
    // blue-green keeps its runs current once cancelled (their verdicts stay in the status)
    preRun = current.prePromotion;
    postRun = current.postPromotion;
  } else if (!blueGreen) {
    stepRun = reconcileStepRun(ctx, current.step);
    backgroundRun = reconcileBackgroundRun(ctx, current.background);
  } else {
    preRun = reconcileBlueGreenRun(ctx, 'prePromotionAnalysis', current.prePromotion);
    if (preRun) pauseOrAbort(ctx, preRun, 'Blue/green pre-promotion analysis phase error/failed');
    postRun = reconcileBlueGreenRun(ctx, 'postPromotionAnalysis', current.postPromotion);
    if (postRun) pauseOrAbort(ctx, postRun, 'Blue/green post-promotion analysis phase error/failed');
  }
  ctx.stepRun = stepRun;
  ctx.currentRuns = {
    step: stepRun,
    background: backgroundRun,
    prePromotion: preRun,
    postPromotion: postRun,
  };
  // a run just created or taken over under its name (the status did not record it yet) is rescued
  const rescued = new Set([
    stepRun?.metadata.name,
    backgroundRun?.metadata.name,
    preRun?.metadata.name,
    postRun?.metadata.name,
  ]);
  const otherRuns = others.filter((run) => !rescued.has(run.metadata.name));
  for (const run of otherRuns) terminate(ctx, run);
  for (const run of runsToDelete(ctx.r, otherRuns, ctx.allRSs)) {
    ctx.actions.push({ kind: 'deleteAnalysisRun', name: run.metadata.name });
  }
  const canary = s.canary;
  emitStatusChange(
    ctx,
    s.blueGreen?.postPromotionAnalysisRunStatus as RunStatusRef,
    postRun,
    'PostPromotion',
  );
  emitStatusChange(ctx, s.blueGreen?.prePromotionAnalysisRunStatus as RunStatusRef, preRun, 'PrePromotion');
  emitStatusChange(ctx, canary?.currentStepAnalysisRunStatus as RunStatusRef | undefined, stepRun, 'Step');
  emitStatusChange(
    ctx,
    canary?.currentBackgroundAnalysisRunStatus as RunStatusRef | undefined,
    backgroundRun,
    'Background',
  );
  ctx.newStatus.stepAnalysisRun = stepRun ? runStatusRef(stepRun) : undefined;
  ctx.newStatus.backgroundAnalysisRun = backgroundRun ? runStatusRef(backgroundRun) : undefined;
  ctx.newStatus.prePromotionAnalysisRun = preRun ? runStatusRef(preRun) : undefined;
  ctx.newStatus.postPromotionAnalysisRun = postRun ? runStatusRef(postRun) : undefined;
}

/** spec.analysis.{successful,unsuccessful}RunHistoryLimit, or Argo's default (5). */
export function runHistoryLimits(r: Rollout): { successful: number; unsuccessful: number } {
  const a = isObject(r?.spec?.analysis) ? r.spec.analysis : {};
  const limit = (v: unknown, d: number) => (typeof v === 'number' && Number.isInteger(v) ? v : d);
  return {
    successful: limit(a.successfulRunHistoryLimit, DEFAULT_SUCCESSFUL_RUN_HISTORY_LIMIT),
    unsuccessful: limit(a.unsuccessfulRunHistoryLimit, DEFAULT_UNSUCCESSFUL_RUN_HISTORY_LIMIT),
  };
}

const UNSUCCESSFUL = new Set(['Failed', 'Error', 'Inconclusive']);

/**
 * FilterAnalysisRunsToDelete over the runs that are not current: newest
 * first (by creationTimestamp; the name breaks a tie), a run goes when it has
 * no pod-hash label, when no ReplicaSet of the Rollout has its hash or that
 * ReplicaSet is being deleted, or when it is Successful beyond the
 * successful limit or Failed/Error/Inconclusive beyond the unsuccessful
 * limit. A run still running is kept. Runs being deleted are left alone.
 */
export function runsToDelete(
  r: Rollout,
  others: readonly ObservedRun[],
  allRSs: readonly V1ReplicaSet[],
): ObservedRun[] {
  const { successful, unsuccessful } = runHistoryLimits(r);
  const rsDeleting = new Map<string, boolean>();
  for (const rs of allRSs) {
    const hash = rs?.metadata?.labels?.[POD_TEMPLATE_HASH_LABEL];
    if (hash !== undefined) rsDeleting.set(hash, Boolean(rs.metadata?.deletionTimestamp));
  }
  const newestFirst = [...others].sort((a, b) => {
    const ta = a.metadata.creationTimestamp ?? '';
    const tb = b.metadata.creationTimestamp ?? '';
    if (ta !== tb) return ta < tb ? 1 : -1;
    return a.metadata.name < b.metadata.name ? 1 : a.metadata.name > b.metadata.name ? -1 : 0;
  });
  let keptSuccessful = 0;
  let keptUnsuccessful = 0;
  const out: ObservedRun[] = [];
  for (const run of newestFirst) {
    const hash = run.metadata.labels?.[POD_TEMPLATE_HASH_LABEL];
    if (hash === undefined || !rsDeleting.has(hash) || rsDeleting.get(hash)) {
      out.push(run);
      continue;
    }
    const phase = run.status?.phase ?? '';
    if (phase === 'Successful') {
      if (keptSuccessful < successful) keptSuccessful++;
      else out.push(run);
    } else if (UNSUCCESSFUL.has(phase)) {
      if (keptUnsuccessful < unsuccessful) keptUnsuccessful++;
      else out.push(run);
    }
  }
  return out.filter((run) => !run.metadata.deletionTimestamp);
}

export function runStatusRef(run: ObservedRun): RunStatusRef {
  const ref: RunStatusRef = { name: run.metadata.name, status: run.status?.phase ?? '' };
  if (run.status?.message) ref.message = run.status.message;
  return ref;
}

/** completedCurrentCanaryStep for an analysis step: its run completed Successful. */
export const stepAnalysisSucceeded = (ctx: Ctx): boolean => ctx.stepRun?.status?.phase === 'Successful';
