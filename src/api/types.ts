/**
 * The Argo Rollouts `argoproj.io/v1alpha1` Rollout, as plain JSON (the shape
 * the API server sends). Only the fields Kanary reads are typed precisely;
 * everything else Argo's CRD accepts is allowed through `unknown` so a
 * manifest written for Argo is never rejected for carrying a feature we ignore.
 */
import type { V1LabelSelector, V1ObjectMeta, V1PodTemplateSpec } from '@kubernetes/client-node';

/** An intstr.IntOrString as it appears in JSON. */
export type IntOrString = number | string;

export interface Rollout {
  apiVersion?: string;
  kind?: string;
  metadata: RolloutMeta;
  spec: RolloutSpec;
  status?: RolloutStatus;
}

/** ObjectMeta with timestamps as the RFC 3339 strings the API server sends. */
export interface RolloutMeta extends Omit<V1ObjectMeta, 'creationTimestamp' | 'deletionTimestamp'> {
  creationTimestamp?: string;
  deletionTimestamp?: string;
}

export interface RolloutSpec {
  replicas?: number;
  selector?: V1LabelSelector;
  template?: V1PodTemplateSpec;
  workloadRef?: { apiVersion?: string; kind?: string; name?: string; scaleDown?: string };
  minReadySeconds?: number;
  rollbackWindow?: { revisions?: number };
  strategy?: RolloutStrategy;
  revisionHistoryLimit?: number;
  paused?: boolean;
  progressDeadlineSeconds?: number;
  progressDeadlineAbort?: boolean;
  restartAt?: string;
  analysis?: unknown;
}

export interface RolloutStrategy {
  blueGreen?: BlueGreenStrategy;
  canary?: CanaryStrategy;
}

export interface BlueGreenStrategy {
  activeService?: string;
  previewService?: string;
  autoPromotionEnabled?: boolean;
  autoPromotionSeconds?: number;
  previewReplicaCount?: number;
  scaleDownDelaySeconds?: number;
  scaleDownDelayRevisionLimit?: number;
  abortScaleDownDelaySeconds?: number;
  maxUnavailable?: IntOrString;
  antiAffinity?: AntiAffinity;
  activeMetadata?: PodTemplateMetadata;
  previewMetadata?: PodTemplateMetadata;
  prePromotionAnalysis?: unknown;
  postPromotionAnalysis?: unknown;
  [field: string]: unknown;
}

export interface CanaryStrategy {
  canaryService?: string;
  stableService?: string;
  steps?: CanaryStep[];
  trafficRouting?: RolloutTrafficRouting;
  maxUnavailable?: IntOrString;
  maxSurge?: IntOrString;
  analysis?: unknown;
  antiAffinity?: AntiAffinity;
  canaryMetadata?: PodTemplateMetadata;
  stableMetadata?: PodTemplateMetadata;
  scaleDownDelaySeconds?: number;
  scaleDownDelayRevisionLimit?: number;
  abortScaleDownDelaySeconds?: number;
  dynamicStableScale?: boolean;
  pingPong?: { pingService?: string; pongService?: string };
  minPodsPerReplicaSet?: number;
  replicaProgressThreshold?: { type?: string; value?: number };
}

export interface AntiAffinity {
  preferredDuringSchedulingIgnoredDuringExecution?: { weight?: number };
  requiredDuringSchedulingIgnoredDuringExecution?: Record<string, never>;
}

export interface PodTemplateMetadata {
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}

export interface CanaryStep {
  setWeight?: number;
  pause?: RolloutPause;
  experiment?: {
    templates?: { name?: string; weight?: number; [k: string]: unknown }[];
    [k: string]: unknown;
  };
  analysis?: { args?: unknown[]; [k: string]: unknown };
  setCanaryScale?: SetCanaryScale;
  setHeaderRoute?: { name?: string; match?: unknown[] };
  setMirrorRoute?: { name?: string; match?: unknown[]; percentage?: number };
  plugin?: { name?: string; config?: unknown };
}

export interface RolloutPause {
  duration?: IntOrString;
}

export interface SetCanaryScale {
  weight?: number;
  replicas?: number;
  matchTrafficWeight?: boolean;
}

export interface RolloutTrafficRouting {
  nginx?: NginxTrafficRouting;
  istio?: unknown;
  alb?: unknown;
  smi?: unknown;
  ambassador?: unknown;
  appMesh?: unknown;
  traefik?: unknown;
  apisix?: unknown;
  managedRoutes?: { name: string }[];
  plugins?: Record<string, unknown>;
  maxTrafficWeight?: number;
}

export interface NginxTrafficRouting {
  annotationPrefix?: string;
  stableIngress?: string;
  stableIngresses?: string[];
  additionalIngressAnnotations?: Record<string, string>;
  canaryIngressAnnotations?: Record<string, string>;
}

export type RolloutPhase = 'Healthy' | 'Degraded' | 'Progressing' | 'Paused';

/**
 * The status exactly as Argo writes it. Go's `omitempty` means zero values
 * are absent (normalizeStatus enforces that), except `canary` and `blueGreen`
 * which are structs and always present, possibly `{}`.
 */
export interface RolloutStatus {
  abort?: boolean;
  pauseConditions?: PauseCondition[];
  controllerPause?: boolean;
  abortedAt?: string;
  currentPodHash?: string;
  currentStepHash?: string;
  replicas?: number;
  updatedReplicas?: number;
  readyReplicas?: number;
  availableReplicas?: number;
  currentStepIndex?: number;
  collisionCount?: number;
  observedGeneration?: string;
  conditions?: RolloutCondition[];
  canary?: CanaryStatus;
  blueGreen?: BlueGreenStatus;
  HPAReplicas?: number;
  selector?: string;
  stableRS?: string;
  restartedAt?: string;
  promoteFull?: boolean;
  phase?: RolloutPhase;
  message?: string;
  workloadObservedGeneration?: string;
  alb?: unknown;
  albs?: unknown[];
}

export type PauseReason =
  | 'CanaryPauseStep'
  | 'BlueGreenPause'
  | 'InconclusiveAnalysisRun'
  | 'InconclusiveExperiment';

export interface PauseCondition {
  reason: PauseReason | string;
  startTime: string;
}

/** status.blueGreen (Argo's BlueGreenStatus) */
export interface BlueGreenStatus {
  activeSelector?: string;
  previewSelector?: string;
  scaleUpPreviewCheckPoint?: boolean;
  prePromotionAnalysisRunStatus?: AnalysisRunStatusRef;
  postPromotionAnalysisRunStatus?: AnalysisRunStatusRef;
  [field: string]: unknown;
}

/** Argo's RolloutAnalysisRunStatus */
export interface AnalysisRunStatusRef {
  name?: string;
  status?: string;
  message?: string;
}

export interface CanaryStatus {
  currentStepAnalysisRunStatus?: AnalysisRunStatusRef;
  currentBackgroundAnalysisRunStatus?: AnalysisRunStatusRef;
  currentExperiment?: string;
  weights?: TrafficWeights;
  stablePingPong?: string;
  /** where Argo before v1.0 kept the stable hash (now status.stableRS); only read, by clients */
  stableRS?: string;
}

export interface TrafficWeights {
  canary: WeightDestination;
  stable: WeightDestination;
  additional?: WeightDestination[];
  verified?: boolean;
}

export interface WeightDestination {
  weight: number;
  serviceName?: string;
  podTemplateHash?: string;
}

export type ConditionStatus = 'True' | 'False' | 'Unknown';

export type RolloutConditionType =
  | 'InvalidSpec'
  | 'Available'
  | 'Progressing'
  | 'ReplicaFailure'
  | 'Paused'
  | 'Completed'
  | 'Healthy';

export interface RolloutCondition {
  type: RolloutConditionType | string;
  status: ConditionStatus | string;
  lastUpdateTime: string;
  lastTransitionTime: string;
  reason: string;
  message: string;
}
