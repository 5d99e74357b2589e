/**
 * The parts of Kubernetes and Argo Rollouts objects that the CLI reads, typed as
 * plain JSON as the API server sends it (timestamps are RFC 3339 strings). Every
 * field is optional because the CLI must cope with half-reconciled and invalid
 * objects, and with objects written by other controllers.
 */
import type * as api from '../api/types.ts';

export interface OwnerReference {
  apiVersion?: string;
  kind?: string;
  name?: string;
  uid?: string;
  controller?: boolean;
}

export interface ObjectMeta {
  name?: string;
  namespace?: string;
  uid?: string;
  generation?: number;
  resourceVersion?: string;
  creationTimestamp?: string | null;
  deletionTimestamp?: string | null;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  ownerReferences?: OwnerReference[];
}

export interface Container {
  name?: string;
  image?: string;
}

export interface PodSpec {
  containers?: Container[];
  initContainers?: Container[];
  ephemeralContainers?: Container[];
}

export interface PodTemplateSpec {
  metadata?: ObjectMeta;
  spec?: PodSpec;
}

export interface Condition {
  type?: string;
  status?: string;
  reason?: string;
  message?: string;
  lastUpdateTime?: string;
  lastTransitionTime?: string;
}

/**
 * A JSON object as a client reads it back from the API server: any field may
 * be missing (half-reconciled objects, objects of other controllers). The
 * lists and objects the CLI reads may also be null.
 */
type ReadBack<T> = T extends readonly (infer U)[]
  ? (U extends object ? ReadBackObject<U> : U)[] | null
  : T extends object
    ? ReadBackObject<T> | null
    : T;
type ReadBackObject<T> = { [K in keyof T]?: ReadBack<T[K]> };

/*
 * The Rollout types are src/api's (one description of the object), read back.
 * Only the pod template keeps the CLI's own shape (timestamps as strings), and
 * the generations also accept numbers, which pre-v1.0 tools wrote.
 */
export type CanaryStep = ReadBackObject<api.CanaryStep>;
export type CanaryStrategy = ReadBackObject<api.CanaryStrategy>;
export type BlueGreenStrategy = ReadBackObject<api.BlueGreenStrategy>;

export type RolloutSpec = Omit<ReadBackObject<api.RolloutSpec>, 'template' | 'strategy'> & {
  template?: PodTemplateSpec;
  strategy?: ReadBackObject<api.RolloutStrategy>;
};

export type RolloutStatus = Omit<
  ReadBackObject<api.RolloutStatus>,
  'phase' | 'observedGeneration' | 'workloadObservedGeneration'
> & {
  /** whatever the controller wrote (Kanary's and Argo's write Healthy, Progressing, Paused or Degraded) */
  phase?: string;
  /** a decimal string since v0.10, a hash before; some tools write a number */
  observedGeneration?: string | number;
  workloadObservedGeneration?: string | number;
};

export interface Rollout {
  apiVersion?: string;
  kind?: string;
  metadata: ObjectMeta;
  spec?: RolloutSpec;
  status?: RolloutStatus;
}

export interface ReplicaSet {
  apiVersion?: string;
  kind?: string;
  metadata: ObjectMeta;
  spec?: { replicas?: number; template?: PodTemplateSpec };
  status?: {
    replicas?: number;
    availableReplicas?: number;
    readyReplicas?: number;
    observedGeneration?: number;
    conditions?: Condition[];
  };
}

export interface ContainerState {
  waiting?: { reason?: string } | null;
  running?: Record<string, unknown> | null;
  terminated?: { reason?: string; exitCode?: number; signal?: number } | null;
}

export interface ContainerStatus {
  name?: string;
  ready?: boolean;
  restartCount?: number;
  state?: ContainerState;
}

export interface Pod {
  apiVersion?: string;
  kind?: string;
  metadata: ObjectMeta;
  spec?: PodSpec;
  status?: {
    phase?: string;
    reason?: string;
    initContainerStatuses?: ContainerStatus[];
    containerStatuses?: ContainerStatus[];
  };
}

export interface Measurement {
  phase?: string;
  /** the metric's value as the provider returned it (a number, or a JSON list of numbers, as text) */
  value?: string;
  message?: string;
  startedAt?: string;
  finishedAt?: string;
  metadata?: Record<string, string>;
}

export interface MetricCounts {
  count?: number;
  successful?: number;
  failed?: number;
  inconclusive?: number;
  error?: number;
}

export interface MetricResult extends MetricCounts {
  name?: string;
  phase?: string;
  message?: string;
  consecutiveError?: number;
  consecutiveSuccess?: number;
  dryRun?: boolean;
  measurements?: Measurement[] | null;
}

/** A metric of an AnalysisRun's spec, as the CLI reads it (counts and limits are int-or-string). */
export interface AnalysisMetric {
  name?: string;
  interval?: string;
  initialDelay?: string;
  count?: number | string;
  successCondition?: string;
  failureCondition?: string;
  failureLimit?: number | string;
  inconclusiveLimit?: number | string;
  consecutiveErrorLimit?: number | string;
  consecutiveSuccessLimit?: number | string;
  provider?: Record<string, unknown> | null;
}

export interface AnalysisArgument {
  name?: string;
  value?: string;
  valueFrom?: {
    secretKeyRef?: { name?: string; key?: string } | null;
    fieldRef?: { fieldPath?: string } | null;
    podTemplateHashValue?: string;
  } | null;
}

export interface AnalysisRun {
  apiVersion?: string;
  kind?: string;
  metadata: ObjectMeta;
  spec?: {
    metrics?: AnalysisMetric[] | null;
    args?: AnalysisArgument[] | null;
    terminate?: boolean;
    dryRun?: { metricName?: string }[] | null;
    measurementRetention?: { metricName?: string; limit?: number }[] | null;
  };
  status?: {
    phase?: string;
    message?: string;
    startedAt?: string;
    completedAt?: string;
    runSummary?: MetricCounts | null;
    dryRunSummary?: MetricCounts | null;
    metricResults?: MetricResult[] | null;
  };
}

export interface Experiment {
  apiVersion?: string;
  kind?: string;
  metadata: ObjectMeta;
  status?: { phase?: string; message?: string };
}

/** Everything `get rollout` needs: the Rollout and the objects of its namespace that may belong to it. */
export interface RolloutObjects {
  rollout: Rollout;
  replicaSets: ReplicaSet[];
  pods: Pod[];
  experiments: Experiment[];
  analysisRuns: AnalysisRun[];
}
