/**
 * What the dashboard sends to the page: a summary per Rollout for the list and
 * a detail document for one Rollout, computed purely from the watched objects
 * (the same view model as `kanary get rollout`, src/client/rollout-info.ts).
 * Only these documents leave the server, never the raw objects: no pod
 * environment, no annotations a secret could hide in.
 */
import {
  type RolloutInfo,
  rolloutInfo,
  rolloutPhase,
  stepText,
  strategyName,
} from '../client/rollout-info.ts';
import type { AnalysisRun, Condition, Rollout, RolloutObjects } from '../client/types.ts';
import { currentSetWeight, stepString } from '../rollout/steps.ts';
import type { ServedView } from './traffic.ts';

export interface RolloutSummary {
  /** `namespace/name` */
  key: string;
  namespace: string;
  name: string;
  strategy: string;
  phase: string;
  message: string;
  /** `1/3`, or '' */
  step: string;
  /** the weight the current step asks for, '' for blue-green */
  setWeight: string;
  /** the canary weight the traffic router was last set to (status.canary.weights), '' when unknown */
  actualWeight: string;
  ready: string;
  desired: number;
  updated: number;
  available: number;
  /** the Rollout's template images */
  images: string[];
  /** there are pause conditions (or, before the controller wrote any list, spec.paused is set) */
  paused: boolean;
  /** spec.paused (a manual pause) */
  manualPause: boolean;
  aborted: boolean;
  /** the current pod template is the stable one (both unset counts as equal, as Argo CD reads it) */
  fullyPromoted: boolean;
  resourceVersion: string;
}

function templateImages(ro: Rollout): string[] {
  return (ro.spec?.template?.spec?.containers ?? []).map((c) => c.image ?? '');
}

export function rolloutKey(namespace: string | undefined, name: string | undefined): string {
  return `${namespace ?? ''}/${name ?? ''}`;
}

export function summaryOf(ro: Rollout): RolloutSummary {
  const strategy = strategyName(ro);
  const status = ro.status ?? {};
  const { phase, message } = rolloutPhase(ro);
  const weights = status.canary?.weights;
  return {
    key: rolloutKey(ro.metadata.namespace, ro.metadata.name),
    namespace: ro.metadata.namespace ?? '',
    name: ro.metadata.name ?? '',
    strategy: strategy || 'unknown',
    phase,
    message,
    step: strategy === 'Canary' ? stepText(ro) : '',
    setWeight: strategy === 'Canary' ? String(currentSetWeight(ro)) : '',
    actualWeight: weights ? String(weights.canary?.weight ?? 0) : '',
    ready: `${status.readyReplicas ?? 0}/${status.replicas ?? 0}`,
    desired: ro.spec?.replicas ?? 1,
    updated: status.updatedReplicas ?? 0,
    available: status.availableReplicas ?? 0,
    images: templateImages(ro),
    // as Argo CD reads it: the pause conditions when the controller wrote the list, else spec.paused
    paused: status.pauseConditions ? status.pauseConditions.length > 0 : ro.spec?.paused === true,
    manualPause: ro.spec?.paused === true,
    aborted: status.abort === true,
    fullyPromoted: (status.currentPodHash ?? '') === (status.stableRS ?? ''),
    resourceVersion: ro.metadata.resourceVersion ?? '',
  };
}

export interface StepView {
  index: number;
  text: string;
  state: 'done' | 'current' | 'pending';
}

/** The canary steps with the current one marked (all done once the index is past the end). */
export function stepsOf(ro: Rollout): StepView[] {
  const steps = ro.spec?.strategy?.canary?.steps ?? [];
  const current = ro.status?.currentStepIndex ?? 0;
  return steps.map((step, index) => ({
    index,
    text: stepString(step as Parameters<typeof stepString>[0]),
    state: index < current ? 'done' : index === current ? 'current' : 'pending',
  }));
}

export interface EventView {
  type: string;
  reason: string;
  message: string;
  count: number;
  /** the latest time the Event was seen (RFC 3339), '' when unknown */
  time: string;
  source: string;
}

/** core/v1 Event, the fields the dashboard reads */
export interface KubeEvent {
  metadata: { name?: string; namespace?: string; creationTimestamp?: string };
  involvedObject?: { kind?: string; name?: string; uid?: string };
  type?: string;
  reason?: string;
  message?: string;
  count?: number;
  firstTimestamp?: string | null;
  lastTimestamp?: string | null;
  eventTime?: string | null;
  series?: { lastObservedTime?: string; count?: number } | null;
  source?: { component?: string };
  reportingComponent?: string;
}

function eventTime(e: KubeEvent): string {
  return e.series?.lastObservedTime ?? e.lastTimestamp ?? e.eventTime ?? e.metadata.creationTimestamp ?? '';
}

/** The Rollout's Events, newest first, at most `limit`. */
export function eventViews(ro: Rollout, events: KubeEvent[], limit = 30): EventView[] {
  const uid = ro.metadata.uid;
  return events
    .filter(
      (e) =>
        e.involvedObject?.kind === 'Rollout' &&
        e.involvedObject.name === ro.metadata.name &&
        (!e.involvedObject.uid || !uid || e.involvedObject.uid === uid),
    )
    .map((e) => ({
      type: e.type ?? '',
      reason: e.reason ?? '',
      message: e.message ?? '',
      count: e.series?.count ?? e.count ?? 1,
      time: eventTime(e),
      source: e.reportingComponent || e.source?.component || '',
    }))
    .sort((a, b) => (a.time < b.time ? 1 : a.time > b.time ? -1 : 0))
    .slice(0, limit);
}

export interface MeasurementView {
  phase: string;
  /** the numbers of the value (a number, or each number of a JSON list), empty when not numeric */
  values: number[];
  value: string;
  startedAt: string;
  message: string;
}

export interface MetricView {
  name: string;
  phase: string;
  measurements: MeasurementView[];
}

export interface AnalysisRunView {
  name: string;
  phase: string;
  message: string;
  revision: number;
  metrics: MetricView[];
}

/** The numbers in a measurement value: `0.98`, `[0.98, 1]`, else none. */
export function numbersOf(value: string | undefined): number[] {
  if (value === undefined || value.trim() === '') return [];
  const n = Number(value);
  if (Number.isFinite(n)) return [n];
  try {
    const parsed: unknown = JSON.parse(value);
    if (Array.isArray(parsed))
      return parsed.filter((x): x is number => typeof x === 'number' && Number.isFinite(x));
  } catch {
    // not JSON: a string result has no chart
  }
  return [];
}

const REVISION_ANNOTATION = 'rollout.argoproj.io/revision';

/** AnalysisRuns the Rollout owns, newest revision first, with each metric's measurements for a chart. */
export function analysisViews(ro: Rollout, runs: AnalysisRun[]): AnalysisRunView[] {
  const uid = ro.metadata.uid;
  return runs
    .filter((r) => !!uid && (r.metadata.ownerReferences ?? []).some((o) => o.uid === uid))
    .map((r) => {
      const rev = r.metadata.annotations?.[REVISION_ANNOTATION];
      return {
        name: r.metadata.name ?? '',
        phase: r.status?.phase ?? '',
        message: r.status?.message ?? '',
        revision: rev && /^\d+$/.test(rev) ? Number(rev) : 0,
        created: r.metadata.creationTimestamp ?? '',
        metrics: (r.status?.metricResults ?? []).map((m) => ({
          name: m.name ?? '',
          phase: (m as { phase?: string }).phase ?? '',
          measurements: (m.measurements ?? []).map((x) => ({
            phase: x.phase ?? '',
            values: numbersOf(x.value),
            value: x.value ?? '',
            startedAt: x.startedAt ?? '',
            message: x.message ?? '',
          })),
        })),
      };
    })
    .sort((a, b) => b.revision - a.revision || (a.created < b.created ? 1 : -1))
    .map(({ created: _created, ...run }) => run);
}

export interface ConditionView {
  type: string;
  status: string;
  reason: string;
  message: string;
  lastTransitionTime: string;
}

function conditionViews(conditions: Condition[] | null | undefined): ConditionView[] {
  return (conditions ?? []).map((c) => ({
    type: c.type ?? '',
    status: c.status ?? '',
    reason: c.reason ?? '',
    message: c.message ?? '',
    lastTransitionTime: c.lastTransitionTime ?? '',
  }));
}

export interface RolloutDetail {
  summary: RolloutSummary;
  info: Omit<RolloutInfo, 'icon'>;
  steps: StepView[];
  conditions: ConditionView[];
  events: EventView[];
  analysisRuns: AnalysisRunView[];
  /** revisions one can undo to (those with a ReplicaSet), newest first */
  revisions: number[];
  /** container names of the template, for set image */
  containers: string[];
  /** pause conditions, as the controller wrote them */
  pauseReasons: string[];
  /** what the data plane serves (with --ingress-metrics, for a Rollout with NGINX traffic routing) */
  served?: ServedView;
  /** why the data plane's metrics could not be read */
  servedError?: string;
}

export function detailOf(
  objects: RolloutObjects,
  events: KubeEvent[],
  traffic: { served?: ServedView; error?: string } = {},
): RolloutDetail {
  const ro = objects.rollout;
  const { icon: _icon, ...info } = rolloutInfo(objects);
  const revisions = [...new Set(info.replicaSets.map((rs) => rs.revision))]
    .filter((r) => r > 0)
    .sort((a, b) => b - a);
  return {
    summary: summaryOf(ro),
    info,
    steps: stepsOf(ro),
    conditions: conditionViews(ro.status?.conditions as Condition[] | undefined),
    events: eventViews(ro, events),
    analysisRuns: analysisViews(ro, objects.analysisRuns),
    revisions,
    containers: (ro.spec?.template?.spec?.containers ?? []).map((c) => c.name ?? ''),
    pauseReasons: (ro.status?.pauseConditions ?? []).map((p) => p?.reason ?? ''),
    ...(traffic.served ? { served: traffic.served } : {}),
    ...(traffic.error ? { servedError: traffic.error } : {}),
  };
}
