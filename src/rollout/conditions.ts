/** Rollout conditions with Argo's update rules (utils/conditions). */
import type { ConditionStatus, RolloutCondition, RolloutStatus } from '../api/types.ts';

export function newCondition(
  type: string,
  status: ConditionStatus,
  reason: string,
  message: string,
  now: string,
): RolloutCondition {
  return { type, status, lastUpdateTime: now, lastTransitionTime: now, reason, message };
}

export function getCondition(status: RolloutStatus | undefined, type: string): RolloutCondition | undefined {
  return status?.conditions?.find((c) => c.type === type);
}

export function removeCondition(status: RolloutStatus, type: string): void {
  const kept = (status.conditions ?? []).filter((c) => c.type !== type);
  status.conditions = kept.length > 0 ? kept : undefined;
}

/**
 * SetRolloutCondition: no change when a condition of the type already has the
 * same status and reason (its message and times are kept); otherwise it is
 * replaced and moved to the end, keeping lastTransitionTime if the status did
 * not change. Returns whether anything changed.
 */
export function setCondition(status: RolloutStatus, condition: RolloutCondition): boolean {
  const current = getCondition(status, condition.type);
  if (current && current.status === condition.status && current.reason === condition.reason) return false;
  const next = { ...condition };
  if (current && current.status === condition.status) next.lastTransitionTime = current.lastTransitionTime;
  status.conditions = [...(status.conditions ?? []).filter((c) => c.type !== condition.type), next];
  return true;
}
