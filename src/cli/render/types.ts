/**
 * The parts of Kubernetes and Argo Rollouts objects that the CLI reads, typed as
 * plain JSON as the API server sends it (timestamps are RFC 3339 strings). Every
 * field is optional because the CLI must cope with half-reconciled and invalid
 * objects, and with objects written by other controllers.
 */

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

export interface CanaryStep {
  setWeight?: number;
  pause?: { duration?: string | number } | null;
  experiment?: unknown;
  analysis?: unknown;
  setCanaryScale?: { weight?: number; replicas?: number; matchTrafficWeight?: boolean };
  setHeaderRoute?: { name?: string };
  setMirrorRoute?: { name?: string };
  plugin?: { name?: string };
}

export interface CanaryStrategy {
  steps?: CanaryStep[] | null;
  trafficRouting?: ({ maxTrafficWeight?: number } & Record<string, unknown>) | null;
  canaryService?: string;
  stableService?: string;
  pingPong?: { pingService?: string; pongService?: string } | null;
}

export interface BlueGreenStrategy {
  activeService?: string;
  previewService?: string;
}

export interface RolloutSpec {
  replicas?: number;
  paused?: boolean;
  restartAt?: string;
  selector?: { matchLabels?: Record<string, string> };
  template?: PodTemplateSpec;
  workloadRef?: { apiVersion?: string; kind?: string; name?: string } | null;
  strategy?: { canary?: CanaryStrategy | null; blueGreen?: BlueGreenStrategy | null };
}

export interface Condition {
  type?: string;
  status?: string;
  reason?: string;
  message?: string;
  lastUpdateTime?: string;
  lastTransitionTime?: string;
}

export interface RolloutStatus {
  phase?: string;
  message?: string;
  /** a decimal string since v0.10, a hash before; some tools write a number */
  observedGeneration?: string | number;
  workloadObservedGeneration?: string | number;
  controllerPause?: boolean;
  pauseConditions?: { reason?: string; startTime?: string }[] | null;
  abort?: boolean | null;
  abortedAt?: string;
  promoteFull?: boolean;
  currentPodHash?: string;
  stableRS?: string;
  currentStepIndex?: number | null;
  currentStepHash?: string;
  replicas?: number;
  updatedReplicas?: number;
  readyReplicas?: number;
  availableReplicas?: number;
  restartedAt?: string;
  conditions?: Condition[] | null;
  canary?: {
    weights?: { canary?: { weight?: number }; stable?: { weight?: number } } | null;
    stablePingPong?: string;
    stableRS?: string;
    currentStepAnalysisRunStatus?: { name?: string; status?: string; message?: string } | null;
  } | null;
  blueGreen?: { activeSelector?: string; previewSelector?: string } | null;
}

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
  startedAt?: string;
  finishedAt?: string;
  metadata?: Record<string, string>;
}

export interface AnalysisRun {
  apiVersion?: string;
  kind?: string;
  metadata: ObjectMeta;
  status?: {
    phase?: string;
    message?: string;
    metricResults?: {
      name?: string;
      successful?: number;
      failed?: number;
      inconclusive?: number;
      error?: number;
      measurements?: Measurement[];
    }[];
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
