/**
 * Service selector switching shared by both strategies (Argo's
 * switchServiceSelector, rollout/service.go): the Service's
 * `rollouts-pod-template-hash` selector is pointed at a ReplicaSet's hash, and
 * a Service the Rollout does not manage yet gets the managed-by annotation in
 * the same patch. The pass's view of the Service follows the switch, as
 * Argo's cache does.
 */
import type { V1Service } from '@kubernetes/client-node';
import { MANAGED_BY_ANNOTATION, Message, POD_TEMPLATE_HASH_LABEL, Reason } from '../api/constants.ts';
import { type Ctx, event } from './context.ts';

/** The hash a Service selects ('' when it selects no particular ReplicaSet). */
export const serviceSelectorHash = (svc: V1Service | undefined): string =>
  svc?.spec?.selector?.[POD_TEMPLATE_HASH_LABEL] ?? '';

export const isManagedService = (svc: V1Service | undefined): boolean =>
  svc?.metadata?.annotations?.[MANAGED_BY_ANNOTATION] !== undefined;

/**
 * Points Service `name` at `hash`; nothing when it already selects it and
 * carries the managed-by annotation. Returns whether it patched.
 */
export function switchServiceSelector(ctx: Ctx, name: string, hash: string): boolean {
  const svc = ctx.services[name];
  if (!svc) return false;
  const current = serviceSelectorHash(svc);
  const managed = isManagedService(svc);
  if (current === hash && managed && svc.spec?.selector?.[POD_TEMPLATE_HASH_LABEL] !== undefined)
    return false;
  const patch: { metadata?: object; spec: object } = {
    spec: { selector: { [POD_TEMPLATE_HASH_LABEL]: hash } },
  };
  if (!managed) patch.metadata = { annotations: { [MANAGED_BY_ANNOTATION]: ctx.r.metadata.name } };
  ctx.actions.push({ kind: 'patchService', name, patch });
  event(ctx, Reason.SwitchService, Message.switchService(name, current, hash));
  ctx.services[name] = {
    ...svc,
    metadata: {
      ...svc.metadata,
      annotations: {
        ...svc.metadata?.annotations,
        [MANAGED_BY_ANNOTATION]:
          svc.metadata?.annotations?.[MANAGED_BY_ANNOTATION] ?? ctx.r.metadata.name ?? '',
      },
    },
    spec: { ...svc.spec, selector: { ...svc.spec?.selector, [POD_TEMPLATE_HASH_LABEL]: hash } },
  };
  return true;
}
