/** What a plan asks the shell to do: API writes, in order, and Events to record. */
import type { V1Ingress, V1ReplicaSet } from '@kubernetes/client-node';
import type { AnalysisRunManifest } from './analysis.ts';

export type Action =
  | { kind: 'createReplicaSet'; replicaSet: V1ReplicaSet }
  /** JSON merge patch (scale, annotations, labels, ownerReferences for adoption) */
  | { kind: 'patchReplicaSet'; name: string; patch: object }
  /** revisionHistoryLimit cleanup */
  | { kind: 'deleteReplicaSet'; name: string }
  /** JSON merge patch (selector + managed-by annotation) */
  | { kind: 'patchService'; name: string; patch: object }
  | { kind: 'createIngress'; ingress: V1Ingress }
  /** JSON merge patch */
  | { kind: 'patchIngress'; name: string; patch: object }
  | { kind: 'deleteIngress'; name: string }
  /** restartAt */
  | { kind: 'deletePod'; name: string }
  /** JSON merge patch of a pod's labels/annotations (ephemeral metadata, in place) */
  | { kind: 'patchPod'; name: string; patch: object }
  /** JSON merge patch on the Rollout itself (spec.replicas default, revision annotation) */
  | { kind: 'patchRollout'; patch: object }
  /** an analysis step's or the background analysis' run */
  | { kind: 'createAnalysisRun'; run: AnalysisRunManifest }
  /** JSON merge patch (`spec.terminate: true`) */
  | { kind: 'patchAnalysisRun'; name: string; patch: object }
  /** run history limits (successfulRunHistoryLimit / unsuccessfulRunHistoryLimit) */
  | { kind: 'deleteAnalysisRun'; name: string };

export interface PlanEvent {
  type: 'Normal' | 'Warning';
  reason: string;
  message: string;
}
