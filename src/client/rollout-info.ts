/**
 * The view model behind `get rollout`, `list rollouts` and `status`: what a
 * person wants to know about a Rollout, computed purely from the objects (no I/O,
 * no clock except the `now` passed in). The rules follow the upstream CLI so the
 * two tools agree on what they show (argo-rollouts.md §9, §11.3).
 */
import { calculatePhase } from '../rollout/status.ts';
import { currentSetWeight } from '../rollout/steps.ts';
import { humanDuration } from './format.ts';
import { Icon, Tag } from './icons.ts';
import type {
  AnalysisRun,
  CanaryStep,
  Experiment,
  ObjectMeta,
  Pod,
  ReplicaSet,
  Rollout,
  RolloutObjects,
} from './types.ts';

export const REVISION_ANNOTATION = 'rollout.argoproj.io/revision';
export const SCALE_DOWN_DEADLINE_ANNOTATION = 'scale-down-deadline';
export const EXPERIMENT_TEMPLATE_ANNOTATION = 'experiment.argoproj.io/template-name';
export const POD_TEMPLATE_HASH_LABEL = 'rollouts-pod-template-hash';
const WORKLOAD_GENERATION_ANNOTATION = 'rollout.argoproj.io/workload-generation';
const JOB_NAME_KEY = 'job-name';

/** the weight the current step asks for (the controller's rule, as SET WEIGHT upstream) */
export { currentSetWeight };

export type Phase = 'Healthy' | 'Progressing' | 'Paused' | 'Degraded' | (string & {});

export interface PhaseAndMessage {
  phase: Phase;
  message: string;
}

/** Reads observedGeneration as the client does: a decimal number, or undefined for a pre-v0.10 hash. */
function numericGeneration(value: string | number | undefined): number | undefined {
  if (typeof value === 'number') return Number.isInteger(value) ? value : undefined;
  if (typeof value !== 'string' || !/^[+-]?\d+$/.test(value)) return undefined;
  return Number(value);
}

/**
 * Phase and message as a client should show them: first whether the controller
 * has seen the latest spec (and an unpause), then the controller's own
 * `status.phase`/`message`, and for controllers that never wrote a phase the
 * same rules computed here.
 */
export function rolloutPhase(ro: Rollout): PhaseAndMessage {
  const status = ro.status ?? {};
  const observed = numericGeneration(status.observedGeneration);
  const generation = ro.metadata.generation ?? 0;
  // a non-numeric (hash) or larger observedGeneration comes from v0.9 and counts as observed
  if (observed !== undefined && observed < generation) {
    return { phase: 'Progressing', message: 'waiting for rollout spec update to be observed' };
  }
  if (status.controllerPause && (status.pauseConditions ?? []).length === 0) {
    return { phase: 'Progressing', message: 'waiting for rollout to unpause' };
  }
  const workloadGeneration = ro.metadata.annotations?.[WORKLOAD_GENERATION_ANNOTATION];
  if (ro.spec?.workloadRef && workloadGeneration !== undefined) {
    const observedWorkload = numericGeneration(status.workloadObservedGeneration);
    if (observedWorkload !== undefined && observedWorkload !== Number(workloadGeneration)) {
      return {
        phase: 'Progressing',
        message: 'waiting for rollout spec update to be observed for the reference workload',
      };
    }
  }
  if (status.phase) return { phase: status.phase, message: status.message ?? '' };
  // a controller older than v1.0 never wrote a phase: the controller's rules, as the upstream CLI
  return calculatePhase(ro.spec ?? {}, status);
}

export function canarySteps(ro: Rollout): CanaryStep[] {
  return ro.spec?.strategy?.canary?.steps ?? [];
}

/** The step being executed, or undefined when there are no steps or all are done. */
export function currentCanaryStep(ro: Rollout): { step: CanaryStep; index: number } | undefined {
  const steps = canarySteps(ro);
  if (steps.length === 0) return undefined;
  const index = ro.status?.currentStepIndex ?? 0;
  const step = steps[index];
  return step ? { step, index } : undefined;
}

/** `i/n` when the Rollout has steps and the controller recorded an index, else empty. */
export function stepText(ro: Rollout): string {
  const steps = canarySteps(ro);
  const index = ro.status?.currentStepIndex;
  return typeof index === 'number' && steps.length > 0 ? `${index}/${steps.length}` : '';
}

export function strategyName(ro: Rollout): 'Canary' | 'BlueGreen' | '' {
  if (ro.spec?.strategy?.canary) return 'Canary';
  if (ro.spec?.strategy?.blueGreen) return 'BlueGreen';
  return '';
}

export function phaseIcon(phase: string): string {
  switch (phase) {
    case 'Progressing':
      return Icon.progressing;
    case 'Error':
    case 'InvalidSpec':
      return Icon.warning;
    case 'Paused':
      return Icon.paused;
    case 'Healthy':
      return Icon.ok;
    case 'Degraded':
      return Icon.bad;
    case 'Unknown':
      return Icon.unknown;
    case 'ScaledDown':
      return Icon.neutral;
    default:
      return ' ';
  }
}

/** Icon of an AnalysisRun, Experiment or measurement phase. */
export function analysisIcon(phase: string | undefined): string {
  switch (phase) {
    case 'Successful':
      return Icon.ok;
    case 'Inconclusive':
      return Icon.unknown;
    case 'Failed':
      return Icon.bad;
    case 'Error':
      return Icon.warning;
    case 'Running':
      return Icon.progressing;
    case 'Pending':
      return Icon.waiting;
    default:
      return ' ';
  }
}

export function podIcon(status: string): string {
  if (status.startsWith('Init:')) return Icon.progressing;
  if (status.startsWith('Signal:') || status.startsWith('ExitCode:')) return Icon.bad;
  // kubelet's image and container error reasons (ErrImagePull, CreateContainerError, ...)
  if (status.endsWith('Error') || status.startsWith('Err')) return Icon.warning;
  switch (status) {
    case 'Pending':
    case 'Terminating':
    case 'ContainerCreating':
      return Icon.progressing;
    case 'Running':
    case 'Completed':
      return Icon.ok;
    case 'Failed':
    case 'InvalidImageName':
    case 'CrashLoopBackOff':
      return Icon.bad;
    case 'ImagePullBackOff':
    case 'RegistryUnavailable':
      return Icon.warning;
    case 'Unknown':
      return Icon.unknown;
    default:
      return ' ';
  }
}

export interface PodInfo {
  name: string;
  created: string | undefined;
  status: string;
  icon: string;
  ready: string;
  restarts: number;
}

/** A pod's one-word status, as kubectl's STATUS column derives it from container states. */
export function podInfo(pod: Pod): PodInfo {
  const status = pod.status ?? {};
  let reason = status.reason || status.phase || '';
  let restarts = 0;
  let readyContainers = 0;
  let initializing = false;
  const initCount = pod.spec?.initContainers?.length ?? 0;
  for (const [i, c] of (status.initContainerStatuses ?? []).entries()) {
    restarts += c.restartCount ?? 0;
    const term = c.state?.terminated;
    const waiting = c.state?.waiting;
    if (term && (term.exitCode ?? 0) === 0) continue;
    if (term) {
      if (term.reason) reason = `Init:${term.reason}`;
      else reason = term.signal ? `Init:Signal:${term.signal}` : `Init:ExitCode:${term.exitCode ?? 0}`;
    } else if (waiting?.reason && waiting.reason !== 'PodInitializing') {
      reason = `Init:${waiting.reason}`;
    } else {
      reason = `Init:${i}/${initCount}`;
    }
    initializing = true;
    break;
  }
  if (!initializing) {
    restarts = 0;
    let hasRunning = false;
    const containers = status.containerStatuses ?? [];
    // the first container's state wins, as in kubectl
    for (let i = containers.length - 1; i >= 0; i--) {
      const c = containers[i];
      if (!c) continue;
      restarts += c.restartCount ?? 0;
      const term = c.state?.terminated;
      if (c.state?.waiting?.reason) reason = c.state.waiting.reason;
      else if (term?.reason) reason = term.reason;
      else if (term) reason = term.signal ? `Signal:${term.signal}` : `ExitCode:${term.exitCode ?? 0}`;
      else if (c.ready && c.state?.running) {
        hasRunning = true;
        readyContainers++;
      }
    }
    if (reason === 'Completed' && hasRunning) reason = 'Running';
  }
  if (pod.metadata.deletionTimestamp) reason = status.reason === 'NodeLost' ? 'Unknown' : 'Terminating';
  return {
    name: pod.metadata.name ?? '',
    created: pod.metadata.creationTimestamp ?? undefined,
    status: reason,
    icon: podIcon(reason),
    ready: `${readyContainers}/${pod.spec?.containers?.length ?? 0}`,
    restarts,
  };
}

export interface ReplicaSetInfo {
  name: string;
  uid: string;
  created: string | undefined;
  revision: number;
  status: string;
  icon: string;
  replicas: number;
  available: number;
  images: string[];
  /** experiment template the ReplicaSet runs, if any */
  template: string;
  scaleDownDeadline: string;
  stable: boolean;
  canary: boolean;
  active: boolean;
  preview: boolean;
  ping: boolean;
  pong: boolean;
  pods: PodInfo[];
}

function replicaSetHealth(rs: ReplicaSet): string {
  const generation = rs.metadata.generation ?? 0;
  const status = rs.status ?? {};
  if (generation > (status.observedGeneration ?? 0)) return 'Progressing';
  const failure = (status.conditions ?? []).find((c) => c.type === 'ReplicaFailure');
  if (failure?.status === 'True') return 'ReplicaFailure';
  const desired = rs.spec?.replicas;
  if (desired !== undefined && (status.availableReplicas ?? 0) < desired) return 'Progressing';
  if (desired === 0) return 'ScaledDown';
  return 'Healthy';
}

function replicaSetIcon(status: string): string {
  if (status === 'ReplicaFailure') return Icon.bad;
  return phaseIcon(status === 'Healthy' || status === 'Progressing' || status === 'ScaledDown' ? status : '');
}

function revisionOf(meta: ObjectMeta): number {
  const text = meta.annotations?.[REVISION_ANNOTATION];
  return text && /^\d+$/.test(text) ? Number(text) : 0;
}

function ownedBy(meta: ObjectMeta, uid: string | undefined): boolean {
  return !!uid && (meta.ownerReferences ?? []).some((o) => o.uid === uid);
}

function byCreation(a: { created: string | undefined }, b: { created: string | undefined }): number {
  return (Date.parse(a.created ?? '') || 0) - (Date.parse(b.created ?? '') || 0);
}

/** ReplicaSets owned by `ownerUid`, newest revision first, with their pods and the role each plays for `ro`. */
export function replicaSetInfos(
  ownerUid: string | undefined,
  ro: Rollout | undefined,
  replicaSets: ReplicaSet[],
  pods: Pod[],
): ReplicaSetInfo[] {
  const infos: ReplicaSetInfo[] = [];
  for (const rs of replicaSets) {
    if (!ownedBy(rs.metadata, ownerUid)) continue;
    const status = replicaSetHealth(rs);
    const info: ReplicaSetInfo = {
      name: rs.metadata.name ?? '',
      uid: rs.metadata.uid ?? '',
      created: rs.metadata.creationTimestamp ?? undefined,
      revision: revisionOf(rs.metadata),
      status,
      icon: replicaSetIcon(status),
      replicas: rs.status?.replicas ?? 0,
      available: rs.status?.availableReplicas ?? 0,
      images: (rs.spec?.template?.spec?.containers ?? []).map((c) => c.image ?? ''),
      template: rs.metadata.annotations?.[EXPERIMENT_TEMPLATE_ANNOTATION] ?? '',
      scaleDownDeadline: rs.metadata.annotations?.[SCALE_DOWN_DEADLINE_ANNOTATION] ?? '',
      stable: false,
      canary: false,
      active: false,
      preview: false,
      ping: false,
      pong: false,
      pods: [],
    };
    if (ro) markRoles(info, rs.metadata.labels?.[POD_TEMPLATE_HASH_LABEL] ?? '', ro);
    info.pods = pods
      .filter((p) => ownedBy(p.metadata, info.uid))
      .map(podInfo)
      .sort((a, b) => byCreation(a, b) || a.name.localeCompare(b.name));
    infos.push(info);
  }
  return infos.sort((a, b) => b.revision - a.revision || a.name.localeCompare(b.name));
}

function markRoles(info: ReplicaSetInfo, hash: string, ro: Rollout): void {
  const status = ro.status ?? {};
  const strategy = ro.spec?.strategy ?? {};
  if (strategy.canary) {
    const pingPong = !!strategy.canary.pingPong;
    const stableIsPing = status.canary?.stablePingPong === 'ping';
    if (status.stableRS === hash) {
      info.stable = true;
      info.ping = pingPong && stableIsPing;
      info.pong = pingPong && !stableIsPing;
    } else if (status.currentPodHash === hash) {
      info.canary = true;
      info.ping = pingPong && !stableIsPing;
      info.pong = pingPong && stableIsPing;
    }
  }
  if (strategy.blueGreen) {
    if (status.stableRS === hash) info.stable = true;
    if (status.blueGreen?.activeSelector === hash) info.active = true;
    else if (status.blueGreen?.previewSelector === hash) info.preview = true;
  }
}

export interface JobInfo {
  name: string;
  created: string | undefined;
  status: string;
  icon: string;
}

export interface AnalysisRunInfo {
  name: string;
  uid: string;
  created: string | undefined;
  revision: number;
  status: string;
  icon: string;
  successful: number;
  failed: number;
  inconclusive: number;
  error: number;
  jobs: JobInfo[];
}

export function analysisRunInfos(ownerUid: string | undefined, runs: AnalysisRun[]): AnalysisRunInfo[] {
  const infos: AnalysisRunInfo[] = [];
  for (const run of runs) {
    if (!ownedBy(run.metadata, ownerUid)) continue;
    const info: AnalysisRunInfo = {
      name: run.metadata.name ?? '',
      uid: run.metadata.uid ?? '',
      created: run.metadata.creationTimestamp ?? undefined,
      revision: revisionOf(run.metadata),
      status: run.status?.phase ?? '',
      icon: analysisIcon(run.status?.phase),
      successful: 0,
      failed: 0,
      inconclusive: 0,
      error: 0,
      jobs: [],
    };
    for (const result of run.status?.metricResults ?? []) {
      info.successful += result.successful ?? 0;
      info.failed += result.failed ?? 0;
      info.inconclusive += result.inconclusive ?? 0;
      info.error += result.error ?? 0;
      for (const m of result.measurements ?? []) {
        const job = m.metadata?.[JOB_NAME_KEY];
        if (job)
          info.jobs.push({
            name: job,
            created: m.startedAt,
            status: m.phase ?? '',
            icon: analysisIcon(m.phase),
          });
      }
    }
    infos.push(info);
  }
  return infos.sort((a, b) => b.revision - a.revision || byCreation(a, b) || b.name.localeCompare(a.name));
}

export interface ExperimentInfo {
  name: string;
  uid: string;
  created: string | undefined;
  revision: number;
  status: string;
  icon: string;
  message: string;
  replicaSets: ReplicaSetInfo[];
  analysisRuns: AnalysisRunInfo[];
}

export function experimentInfos(objects: RolloutObjects): ExperimentInfo[] {
  const uid = objects.rollout.metadata.uid;
  return objects.experiments
    .filter((e) => ownedBy(e.metadata, uid))
    .map((e: Experiment) => ({
      name: e.metadata.name ?? '',
      uid: e.metadata.uid ?? '',
      created: e.metadata.creationTimestamp ?? undefined,
      revision: revisionOf(e.metadata),
      status: e.status?.phase ?? '',
      icon: analysisIcon(e.status?.phase),
      message: e.status?.message ?? '',
      replicaSets: replicaSetInfos(e.metadata.uid, undefined, objects.replicaSets, objects.pods),
      analysisRuns: analysisRunInfos(e.metadata.uid, objects.analysisRuns),
    }))
    .sort((a, b) => b.revision - a.revision || byCreation(a, b));
}

export interface ImageInfo {
  image: string;
  tags: string[];
}

export interface RolloutInfo {
  name: string;
  namespace: string;
  created: string | undefined;
  status: Phase;
  message: string;
  icon: string;
  strategy: 'Canary' | 'BlueGreen' | '';
  step: string;
  setWeight: string;
  actualWeight: string;
  images: ImageInfo[];
  replicas: { desired: number; current: number; updated: number; ready: number; available: number };
  replicaSets: ReplicaSetInfo[];
  experiments: ExperimentInfo[];
  analysisRuns: AnalysisRunInfo[];
}

/** Adds `next` to `images`, merging tags when the image is already listed; sorted by image. */
function mergeImage(images: ImageInfo[], next: ImageInfo): ImageInfo[] {
  const existing = images.find((i) => i.image === next.image);
  if (existing) existing.tags = [...new Set([...existing.tags, ...next.tags])].sort();
  else images.push(next);
  return images.sort((a, b) => (a.image < b.image ? -1 : a.image > b.image ? 1 : 0));
}

/** Images that run pods right now, tagged with the role of their ReplicaSet or experiment template. */
export function runningImages(replicaSets: ReplicaSetInfo[], experiments: ExperimentInfo[]): ImageInfo[] {
  let images: ImageInfo[] = [];
  for (const rs of replicaSets) {
    if (rs.replicas <= 0) continue;
    const tags: string[] = [];
    if (rs.canary) tags.push(Tag.canary);
    if (rs.stable) tags.push(Tag.stable);
    if (rs.active) tags.push(Tag.active);
    if (rs.preview) tags.push(Tag.preview);
    if (rs.ping) tags.push(Tag.ping);
    if (rs.pong) tags.push(Tag.pong);
    for (const image of rs.images) images = mergeImage(images, { image, tags: [...tags] });
  }
  for (const exp of experiments) {
    for (const rs of exp.replicaSets) {
      if (rs.replicas <= 0) continue;
      for (const image of rs.images) {
        images = mergeImage(images, { image, tags: rs.template ? [`Σ:${rs.template}`] : [] });
      }
    }
  }
  return images;
}

/**
 * The traffic weight the canary actually gets: the router's recorded weight,
 * or without a router the canary's share of available pods; 100 once all
 * steps are done.
 */
function actualWeight(ro: Rollout, setWeight: number, replicaSets: ReplicaSetInfo[]): string {
  if (!currentCanaryStep(ro)) return '100';
  const available = ro.status?.availableReplicas ?? 0;
  if (available <= 0) return '0';
  if (!ro.spec?.strategy?.canary?.trafficRouting) {
    const canary = replicaSets.filter((rs) => rs.canary).at(-1);
    return canary ? String(Math.trunc((canary.available * 100) / available)) : '0';
  }
  const weights = ro.status?.canary?.weights;
  return weights ? String(weights.canary?.weight ?? 0) : String(setWeight);
}

export function rolloutInfo(objects: RolloutObjects): RolloutInfo {
  const ro = objects.rollout;
  const { phase, message } = rolloutPhase(ro);
  const replicaSets = replicaSetInfos(ro.metadata.uid, ro, objects.replicaSets, objects.pods);
  const experiments = experimentInfos(objects);
  const strategy = strategyName(ro);
  const setWeight = currentSetWeight(ro);
  const status = ro.status ?? {};
  return {
    name: ro.metadata.name ?? '',
    namespace: ro.metadata.namespace ?? '',
    created: ro.metadata.creationTimestamp ?? undefined,
    status: phase,
    message,
    icon: phaseIcon(phase),
    strategy,
    step: strategy === 'Canary' ? stepText(ro) : '',
    setWeight: strategy === 'Canary' ? String(setWeight) : '',
    actualWeight: strategy === 'Canary' ? actualWeight(ro, setWeight, replicaSets) : '',
    images: runningImages(replicaSets, experiments),
    replicas: {
      desired: ro.spec?.replicas ?? 1,
      current: status.replicas ?? 0,
      updated: status.updatedReplicas ?? 0,
      ready: status.readyReplicas ?? 0,
      available: status.availableReplicas ?? 0,
    },
    replicaSets,
    experiments,
    analysisRuns: analysisRunInfos(ro.metadata.uid, objects.analysisRuns),
  };
}

/** Revisions that have any ReplicaSet, Experiment or AnalysisRun, newest first. */
export function revisions(info: RolloutInfo): number[] {
  const all = new Set<number>();
  for (const x of [...info.replicaSets, ...info.experiments, ...info.analysisRuns]) all.add(x.revision);
  return [...all].sort((a, b) => b - a);
}

/** `3h59m` until a ReplicaSet's scale-down deadline, `passed` after it, empty when unreadable. */
export function scaleDownDelay(deadline: string, now: number): string {
  const t = Date.parse(deadline);
  if (Number.isNaN(t)) return '';
  return t < now ? 'passed' : humanDuration(t - now);
}
