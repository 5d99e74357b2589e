/**
 * Rollout validation with Argo Rollouts' messages (pkg/apis/rollouts/validation).
 *
 * Two parts, like Argo:
 * - validateRollout: the spec alone (what `kubectl argo rollouts lint` and the
 *   controller check first);
 * - validateRolloutReferences: the Services and Ingresses the spec names
 *   (missing objects, Service selectors, managed-by, Ingress backends).
 *
 * The result carries the first error only in `message`, exactly as Argo puts
 * it into the InvalidSpec condition (`The Rollout "x" is invalid: <message>`)
 * and as lint prints it (`Error: <message>`); `errors` has all of them.
 */
import type {
  V1Container,
  V1Ingress,
  V1LabelSelector,
  V1PodTemplateSpec,
  V1Service,
} from '@kubernetes/client-node';
import { goQuote, MANAGED_BY_ANNOTATION, POD_TEMPLATE_HASH_LABEL } from './constants.ts';
import { ingressClassOf, reportServes } from './dataplane-report.ts';
import { DEFAULT_MAX_TRAFFIC_WEIGHT, maxSurgeOf, maxUnavailableOf } from './defaults.ts';
import { pauseDurationSeconds } from './duration.ts';
import {
  type FieldError,
  forbidden,
  formatFieldError,
  goValue,
  internal,
  invalid,
  required,
  unsupported,
} from './field-error.ts';
import { stringMatchError } from './managed-routes.ts';
import { selectorMatches } from './selector.ts';
import type { CanaryStep, CanaryStrategy, IntOrString, Rollout } from './types.ts';

export type ValidationResult =
  | { ok: true }
  | {
      ok: false;
      /** the first error, in Go's field.Error text */
      message: string;
      /** its field path, e.g. `spec.strategy.maxSurge` */
      field?: string;
      errors: FieldError[];
    };

export const InvalidMessages = {
  missingField: (f: string) => `Rollout has missing field '${f}'`,
  setWeight: (max: number) => `SetWeight needs to be between 0 and ${max}`,
  experimentWeightWithoutTrafficRouting:
    'Experiment template weight cannot be set unless TrafficRouting is enabled',
  experimentWeightRouter:
    'Experiment template weight is only available for TrafficRouting with SMI, ALB, Istio and Plugins at this time',
  setCanaryScaleTrafficPolicy: 'SetCanaryScale requires TrafficRouting to be set',
  setHeaderRouteTrafficPolicy: 'SetHeaderRoute requires TrafficRouting, supports Istio and ALB and Apisix',
  setHeaderRouteAlbValue: "SetHeaderRoute match value invalid. ALB supports 'exact' value only",
  setMirrorRouteTrafficPolicy: 'SetMirrorRoute requires TrafficRouting, supports Istio and Plugins',
  duration: 'Duration needs to be greater than 0',
  maxSurgeMaxUnavailable: 'MaxSurge and MaxUnavailable both can not be zero',
  step: 'Step must have one of the following set: experiment, setWeight, setCanaryScale, plugin or pause',
  strategy: 'Multiple Strategies can not be listed',
  duplicatedServicesBlueGreen:
    'This rollout uses the same service for the active and preview services, but two different services are required.',
  duplicatedServicesCanary:
    'This rollout uses the same service for the stable and canary services, but two different services are required.',
  antiAffinityStrategy: 'AntiAffinity must have exactly one strategy listed',
  antiAffinityWeight: 'AntiAffinity weight must be between 1-100',
  scaleDownLimitLargerThanRevisionLimit:
    "This rollout's revision history limit can not be smaller than the rollout's scale down limit",
  trafficRoutingServices: 'Canary service and Stable service must to be set to use Traffic Routing',
  canaryScaleDownDelay: 'Canary scaleDownDelaySeconds can only be used with traffic routing',
  canaryDynamicStableScale: 'Canary dynamicStableScale can only be used with traffic routing',
  dynamicStableScaleWithScaleDownDelay: 'Canary dynamicStableScale cannot be used with scaleDownDelaySeconds',
  maxTrafficWeightRouter: 'Canary maxTrafficWeight in traffic routing only supported in Nginx and Plugins',
  pingPongServices: 'Ping service and Pong service must to be set to use Ping-Pong feature',
  duplicatedPingPongServices:
    'This rollout uses the same service for the ping and pong services, but two different services are required.',
  albRootService:
    'Root service field is required for the configuration with ALB and ping-pong feature enabled',
  pingPongWithAlbOnly: 'Ping-pong feature works with the ALB, Istio, and plugin-based traffic routers only',
  routeNotInManagedRoutes:
    'Steps define a route that does not exist in spec.strategy.canary.trafficRouting.managedRoutes',
  nonNegative: 'must be greater than or equal to 0',
  nginxBothIngresses: 'Either StableIngress or StableIngresses must be configured. Both are configured.',
  nginxNoIngress: 'Either StableIngress or StableIngresses must be configured. Neither are configured.',
} as const;

function result(errors: FieldError[]): ValidationResult {
  const first = errors[0];
  if (!first) return { ok: true };
  return { ok: false, message: formatFieldError(first), field: first.field, errors };
}

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * Checks the JSON types of the fields the validation reads, so a hand-written
 * manifest with e.g. `replicas: "3"` gets a clear error instead of a crash.
 * (The API server's CRD schema already guarantees this for stored Rollouts.)
 */
function shapeErrors(r: unknown): FieldError[] {
  if (!isObject(r)) return [invalid('<root>', 'null', 'a Rollout must be a JSON/YAML object')];
  const errs: FieldError[] = [];
  const expect = (
    path: string,
    v: unknown,
    kind: 'object' | 'array' | 'string' | 'integer' | 'boolean' | 'intstr',
  ) => {
    if (v === undefined || v === null) return;
    const ok =
      kind === 'object'
        ? isObject(v)
        : kind === 'array'
          ? Array.isArray(v)
          : kind === 'integer'
            ? Number.isInteger(v)
            : kind === 'intstr'
              ? Number.isInteger(v) || typeof v === 'string'
              : typeof v === kind;
    if (!ok)
      errs.push(
        invalid(
          path,
          goQuote(JSON.stringify(v)),
          `must be ${kind === 'intstr' ? 'an integer or a string' : `a${kind === 'object' || kind === 'array' || kind === 'integer' ? 'n' : ''} ${kind}`}`,
        ),
      );
  };
  expect('metadata', r.metadata, 'object');
  expect('spec', r.spec, 'object');
  const spec = isObject(r.spec) ? r.spec : {};
  expect('spec.replicas', spec.replicas, 'integer');
  expect('spec.selector', spec.selector, 'object');
  // matchExpressions items are schemaless in the CRD (as in Argo's)
  const selector = isObject(spec.selector) ? spec.selector : {};
  expect('spec.selector.matchLabels', selector.matchLabels, 'object');
  expect('spec.selector.matchExpressions', selector.matchExpressions, 'array');
  if (Array.isArray(selector.matchExpressions)) {
    selector.matchExpressions.forEach((e, i) => {
      const p = `spec.selector.matchExpressions[${i}]`;
      expect(p, e, 'object');
      if (!isObject(e)) return;
      expect(`${p}.key`, e.key, 'string');
      expect(`${p}.operator`, e.operator, 'string');
      expect(`${p}.values`, e.values, 'array');
      if (Array.isArray(e.values)) {
        e.values.forEach((v, j) => {
          expect(`${p}.values[${j}]`, v, 'string');
        });
      }
    });
  }
  expect('spec.template', spec.template, 'object');
  expect('spec.minReadySeconds', spec.minReadySeconds, 'integer');
  expect('spec.revisionHistoryLimit', spec.revisionHistoryLimit, 'integer');
  expect('spec.progressDeadlineSeconds', spec.progressDeadlineSeconds, 'integer');
  expect('spec.paused', spec.paused, 'boolean');
  // the template is schemaless in the CRD (as in Argo's), so anything can be stored there
  const template = isObject(spec.template) ? spec.template : {};
  expect('spec.template.metadata', template.metadata, 'object');
  const templateMeta = isObject(template.metadata) ? template.metadata : {};
  expect('spec.template.metadata.labels', templateMeta.labels, 'object');
  expect('spec.template.metadata.annotations', templateMeta.annotations, 'object');
  expect('spec.template.spec', template.spec, 'object');
  const podSpec = isObject(template.spec) ? template.spec : {};
  for (const list of ['containers', 'initContainers']) {
    const containers = podSpec[list];
    expect(`spec.template.spec.${list}`, containers, 'array');
    if (Array.isArray(containers)) {
      containers.forEach((c, i) => {
        const p = `spec.template.spec.${list}[${i}]`;
        expect(p, c, 'object');
        if (!isObject(c)) return;
        expect(`${p}.name`, c.name, 'string');
        expect(`${p}.image`, c.image, 'string');
      });
    }
  }
  expect('spec.strategy', spec.strategy, 'object');
  const strategy = isObject(spec.strategy) ? spec.strategy : {};
  expect('spec.strategy.canary', strategy.canary, 'object');
  const canary = isObject(strategy.canary) ? strategy.canary : {};
  expect('spec.strategy.canary.steps', canary.steps, 'array');
  expect('spec.strategy.canary.stableService', canary.stableService, 'string');
  expect('spec.strategy.canary.canaryService', canary.canaryService, 'string');
  expect('spec.strategy.canary.maxSurge', canary.maxSurge, 'intstr');
  expect('spec.strategy.canary.maxUnavailable', canary.maxUnavailable, 'intstr');
  expect('spec.strategy.canary.trafficRouting', canary.trafficRouting, 'object');
  expect('spec.strategy.canary.scaleDownDelaySeconds', canary.scaleDownDelaySeconds, 'integer');
  expect('spec.strategy.canary.abortScaleDownDelaySeconds', canary.abortScaleDownDelaySeconds, 'integer');
  expect('spec.strategy.canary.minPodsPerReplicaSet', canary.minPodsPerReplicaSet, 'integer');
  expect('spec.strategy.canary.dynamicStableScale', canary.dynamicStableScale, 'boolean');
  const tr = isObject(canary.trafficRouting) ? canary.trafficRouting : {};
  expect('spec.strategy.canary.trafficRouting.maxTrafficWeight', tr.maxTrafficWeight, 'integer');
  expect('spec.strategy.canary.trafficRouting.nginx', tr.nginx, 'object');
  const nginx = isObject(tr.nginx) ? tr.nginx : {};
  expect('spec.strategy.canary.trafficRouting.nginx.stableIngress', nginx.stableIngress, 'string');
  expect('spec.strategy.canary.trafficRouting.nginx.stableIngresses', nginx.stableIngresses, 'array');
  if (Array.isArray(nginx.stableIngresses)) {
    nginx.stableIngresses.forEach((v, i) => {
      expect(`spec.strategy.canary.trafficRouting.nginx.stableIngresses[${i}]`, v, 'string');
    });
  }
  expect('spec.strategy.canary.trafficRouting.managedRoutes', tr.managedRoutes, 'array');
  if (Array.isArray(tr.managedRoutes)) {
    tr.managedRoutes.forEach((m, i) => {
      const p = `spec.strategy.canary.trafficRouting.managedRoutes[${i}]`;
      expect(p, m, 'object');
      if (isObject(m)) expect(`${p}.name`, m.name, 'string');
    });
  }
  expect('spec.strategy.canary.trafficRouting.nginx.annotationPrefix', nginx.annotationPrefix, 'string');
  expect(
    'spec.strategy.canary.trafficRouting.nginx.additionalIngressAnnotations',
    nginx.additionalIngressAnnotations,
    'object',
  );
  expect(
    'spec.strategy.canary.trafficRouting.nginx.canaryIngressAnnotations',
    nginx.canaryIngressAnnotations,
    'object',
  );
  if (Array.isArray(canary.steps)) {
    canary.steps.forEach((step, i) => {
      const p = `spec.strategy.canary.steps[${i}]`;
      // a step cannot be absent: null is as wrong as any other non-object
      if (step === null) errs.push(invalid(p, goQuote('null'), 'must be an object'));
      expect(p, step, 'object');
      if (!isObject(step)) return;
      expect(`${p}.setWeight`, step.setWeight, 'integer');
      expect(`${p}.pause`, step.pause, 'object');
      if (isObject(step.pause)) expect(`${p}.pause.duration`, step.pause.duration, 'intstr');
      expect(`${p}.setCanaryScale`, step.setCanaryScale, 'object');
      if (isObject(step.setCanaryScale)) {
        expect(`${p}.setCanaryScale.weight`, step.setCanaryScale.weight, 'integer');
        expect(`${p}.setCanaryScale.replicas`, step.setCanaryScale.replicas, 'integer');
        expect(`${p}.setCanaryScale.matchTrafficWeight`, step.setCanaryScale.matchTrafficWeight, 'boolean');
      }
      for (const route of ['setHeaderRoute', 'setMirrorRoute'] as const) {
        expect(`${p}.${route}`, step[route], 'object');
        const r = step[route];
        if (!isObject(r)) continue;
        expect(`${p}.${route}.name`, r.name, 'string');
        expect(`${p}.${route}.match`, r.match, 'array');
      }
    });
  }
  return errs;
}

/** Validates the Rollout spec alone. Never throws, whatever the input. */
export function validateRollout(input: unknown): ValidationResult {
  const shape = shapeErrors(input);
  if (shape.length > 0) return result(shape);
  const r = input as Rollout;
  return result(validateRolloutSpec({ ...r, spec: r.spec ?? {} }));
}

function validateRolloutSpec(r: Rollout): FieldError[] {
  const spec = r.spec ?? {};
  const errs: FieldError[] = [];
  const replicas = spec.replicas ?? 1;
  if (replicas < 0)
    errs.push(invalid('spec.replicas', goValue.number(replicas), InvalidMessages.nonNegative));

  if (!spec.workloadRef) {
    if (!spec.selector) {
      errs.push(required('spec.selector', InvalidMessages.missingField('.spec.selector')));
    } else {
      errs.push(...validateLabelSelector(spec.selector, 'spec.selector'));
      const count =
        Object.keys(spec.selector.matchLabels ?? {}).length + (spec.selector.matchExpressions ?? []).length;
      if (count === 0) {
        errs.push(
          invalid(
            'spec.selector',
            goValue.json('struct:v1.LabelSelector', spec.selector),
            'empty selector is invalid for deployment',
          ),
        );
      }
    }
  }
  if (spec.workloadRef && !templateIsEmpty(spec.template)) {
    errs.push(internal('spec.template', 'template must be empty for workload reference rollout'));
  }
  if (!spec.workloadRef) {
    errs.push(...validatePodTemplateForReplicaSet(spec.template, spec.selector));
  }
  const minReadySeconds = spec.minReadySeconds ?? 0;
  if (minReadySeconds < 0) {
    errs.push(invalid('spec.minReadySeconds', goValue.number(minReadySeconds), InvalidMessages.nonNegative));
  }
  const revisionHistoryLimit = spec.revisionHistoryLimit ?? 10;
  if (revisionHistoryLimit < 0) {
    errs.push(
      invalid('spec.revisionHistoryLimit', goValue.number(revisionHistoryLimit), InvalidMessages.nonNegative),
    );
  }
  const progressDeadlineSeconds = spec.progressDeadlineSeconds ?? 600;
  if (progressDeadlineSeconds < 0) {
    errs.push(
      invalid(
        'spec.progressDeadlineSeconds',
        goValue.number(progressDeadlineSeconds),
        InvalidMessages.nonNegative,
      ),
    );
  }
  if (progressDeadlineSeconds <= minReadySeconds) {
    errs.push(
      invalid(
        'spec.progressDeadlineSeconds',
        goValue.number(progressDeadlineSeconds),
        'must be greater than minReadySeconds',
      ),
    );
  }
  errs.push(...validateStrategy(r));
  return errs;
}

function templateIsEmpty(t: V1PodTemplateSpec | undefined): boolean {
  return (
    Object.keys(t?.metadata?.labels ?? {}).length === 0 &&
    Object.keys(t?.metadata?.annotations ?? {}).length === 0
  );
}

/** Argo's field paths for canary checks are `spec.strategy.<field>` (it passes the strategy path). */
const S = 'spec.strategy';

function validateStrategy(r: Rollout): FieldError[] {
  const strategy = r.spec.strategy ?? {};
  if (!strategy.blueGreen && !strategy.canary) {
    return [
      required(
        `${S}.strategy`,
        InvalidMessages.missingField('.spec.strategy.canary or .spec.strategy.blueGreen'),
      ),
    ];
  }
  if (strategy.blueGreen && strategy.canary) {
    return [invalid(`${S}.strategy`, goQuote('blueGreen: true canary: true'), InvalidMessages.strategy)];
  }
  if (strategy.blueGreen) return validateBlueGreen(r);
  return validateCanary(r, strategy.canary as CanaryStrategy);
}

function validateBlueGreen(r: Rollout): FieldError[] {
  const bg = r.spec.strategy?.blueGreen ?? {};
  const errs: FieldError[] = [];
  const active = typeof bg.activeService === 'string' ? bg.activeService : '';
  const preview = typeof bg.previewService === 'string' ? bg.previewService : '';
  if (active === preview) {
    errs.push(invalid(`${S}.activeService`, goQuote(active), InvalidMessages.duplicatedServicesBlueGreen));
  }
  const limit =
    typeof bg.scaleDownDelayRevisionLimit === 'number' ? bg.scaleDownDelayRevisionLimit : undefined;
  if (limit !== undefined && (r.spec.revisionHistoryLimit ?? 10) < limit) {
    errs.push(
      invalid(
        `${S}.scaleDownDelayRevisionLimit`,
        goValue.number(limit),
        InvalidMessages.scaleDownLimitLargerThanRevisionLimit,
      ),
    );
  }
  errs.push(...validateAntiAffinity(bg.antiAffinity as CanaryStrategy['antiAffinity'], `${S}.antiAffinity`));
  return errs;
}

/** The routers for which Argo requires both canaryService and stableService. */
function requiresCanaryStableServices(c: CanaryStrategy): boolean {
  const tr = c.trafficRouting;
  if (!tr) return false;
  const istio = tr.istio as { destinationRule?: unknown } | undefined;
  return Boolean(
    (tr.alb && !c.pingPong) ||
      (istio && !istio.destinationRule) ||
      tr.smi ||
      tr.apisix ||
      tr.ambassador ||
      tr.nginx ||
      tr.appMesh ||
      tr.traefik,
  );
}

/** intstr value as Argo's validation reads it: a percent string or else IntValue(). */
function intOrPercentValue(v: IntOrString): number {
  if (typeof v === 'number') return v;
  if (/^[0-9]+%$/.test(v)) return Number(v.slice(0, -1));
  return /^[+-]?\d+$/.test(v) ? Number(v) : 0;
}

function validateCanary(r: Rollout, c: CanaryStrategy): FieldError[] {
  const errs: FieldError[] = [];
  if (intOrPercentValue(maxSurgeOf(r)) === 0 && intOrPercentValue(maxUnavailableOf(r)) === 0) {
    errs.push(
      invalid(`${S}.maxSurge`, goValue.intOrString(c.maxSurge ?? 0), InvalidMessages.maxSurgeMaxUnavailable),
    );
  }
  if (c.canaryService && c.stableService && c.canaryService === c.stableService) {
    errs.push(
      invalid(`${S}.stableService`, goQuote(c.stableService), InvalidMessages.duplicatedServicesCanary),
    );
  }
  const tr = c.trafficRouting;
  if (c.pingPong) {
    const ping = c.pingPong.pingService ?? '';
    const pong = c.pingPong.pongService ?? '';
    if (tr && !tr.alb)
      errs.push(invalid(`${S}.trafficRouting.alb`, 'null', InvalidMessages.pingPongWithAlbOnly));
    if (ping === '')
      errs.push(invalid(`${S}.pingPong.pingService`, goQuote(ping), InvalidMessages.pingPongServices));
    if (pong === '')
      errs.push(invalid(`${S}.pingPong.pongService`, goQuote(pong), InvalidMessages.pingPongServices));
    if (ping === pong) {
      errs.push(
        invalid(`${S}.pingPong.pingService`, goQuote(ping), InvalidMessages.duplicatedPingPongServices),
      );
    }
    const alb = tr?.alb as { rootService?: string } | undefined;
    if (alb && !alb.rootService) {
      errs.push(invalid(`${S}.trafficRouting.alb.rootService`, goQuote(''), InvalidMessages.albRootService));
    }
  }
  if (requiresCanaryStableServices(c)) {
    if (!c.stableService) {
      errs.push(invalid(`${S}.stableService`, goQuote(''), InvalidMessages.trafficRoutingServices));
    }
    if (!c.canaryService) {
      errs.push(invalid(`${S}.canaryService`, goQuote(''), InvalidMessages.trafficRoutingServices));
    }
  }
  if (!tr) {
    if (c.scaleDownDelaySeconds !== undefined && c.scaleDownDelaySeconds !== null) {
      errs.push(
        invalid(
          `${S}.scaleDownDelaySeconds`,
          goValue.number(c.scaleDownDelaySeconds),
          InvalidMessages.canaryScaleDownDelay,
        ),
      );
    }
    if (c.dynamicStableScale) {
      errs.push(invalid(`${S}.dynamicStableScale`, 'true', InvalidMessages.canaryDynamicStableScale));
    }
  } else {
    if (c.scaleDownDelaySeconds !== undefined && c.scaleDownDelaySeconds !== null && c.dynamicStableScale) {
      errs.push(
        invalid(`${S}.dynamicStableScale`, 'true', InvalidMessages.dynamicStableScaleWithScaleDownDelay),
      );
    }
    if (tr.maxTrafficWeight !== undefined && tr.maxTrafficWeight !== null) {
      if (!tr.nginx && Object.keys(tr.plugins ?? {}).length === 0) {
        errs.push(
          invalid(
            `${S}.trafficRouting.maxTrafficWeight`,
            goValue.number(tr.maxTrafficWeight),
            InvalidMessages.maxTrafficWeightRouter,
          ),
        );
      }
    }
  }
  const maxWeight = tr?.maxTrafficWeight ?? DEFAULT_MAX_TRAFFIC_WEIGHT;
  (c.steps ?? []).forEach((step, i) => {
    errs.push(...validateStep(c, step, i, maxWeight));
  });
  errs.push(...validateAntiAffinity(c.antiAffinity, `${S}.antiAffinity`));
  return errs;
}

const has = (v: unknown) => v !== undefined && v !== null;

function validateStep(c: CanaryStrategy, step: CanaryStep, i: number, maxWeight: number): FieldError[] {
  const errs: FieldError[] = [];
  const path = `${S}.steps[${i}]`;
  const tr = c.trafficRouting;
  // Argo counts only these four when checking for several kinds in one step
  const kinds = [has(step.setWeight), has(step.pause), has(step.experiment), has(step.analysis)];
  if (kinds.filter(Boolean).length > 1) {
    const v = `step.Experiment: ${has(step.experiment)} step.Pause: ${has(step.pause)} step.SetWeight: ${has(step.setWeight)} step.Analysis: ${has(step.analysis)}`;
    errs.push(invalid(path, goQuote(v), InvalidMessages.step));
  }
  const anyKind =
    has(step.experiment) ||
    has(step.pause) ||
    has(step.setWeight) ||
    has(step.analysis) ||
    has(step.setCanaryScale) ||
    has(step.setHeaderRoute) ||
    has(step.setMirrorRoute) ||
    has(step.plugin);
  if (!anyKind) {
    // Go prints `== nil` for each kind, so every value reads "true" here
    const v =
      'step.Experiment: true step.Pause: true step.SetWeight: true step.Analysis: true step.SetCanaryScale: true step.SetHeaderRoute: true step.SetMirrorRoute: true step.Plugin: true';
    errs.push(invalid(path, goQuote(v), InvalidMessages.step));
  }
  if (has(step.setWeight) && ((step.setWeight as number) < 0 || (step.setWeight as number) > maxWeight)) {
    errs.push(
      invalid(
        `${path}.setWeight`,
        goValue.number(step.setWeight as number),
        InvalidMessages.setWeight(maxWeight),
      ),
    );
  }
  if (has(step.pause)) {
    const seconds = pauseDurationSeconds(step.pause?.duration);
    if (seconds < 0)
      errs.push(invalid(`${path}.pause.duration`, goValue.number(seconds), InvalidMessages.duration));
  }
  if (has(step.setCanaryScale) && !tr) {
    errs.push(required(`${S}.trafficRouting`, InvalidMessages.setCanaryScaleTrafficPolicy));
  }
  // Kanary also routes both through NGINX (its data plane serves managed routes; Argo refuses
  // them there): a deliberate difference, listed in docs/controller.md
  if (has(step.setHeaderRoute)) {
    const supported =
      tr && (tr.nginx || tr.istio || tr.alb || tr.apisix || Object.keys(tr.plugins ?? {}).length > 0);
    if (!supported) {
      errs.push(
        invalid(
          `${path}.setHeaderRoute`,
          goValue.json('struct:v1alpha1.SetHeaderRoute', step.setHeaderRoute),
          InvalidMessages.setHeaderRouteTrafficPolicy,
        ),
      );
    } else {
      (step.setHeaderRoute?.match ?? []).forEach((m, j) => {
        const value = isObject(m) ? m.headerValue : undefined;
        const err = tr?.alb ? albStringMatchError(value) : stringMatchError(value);
        if (err)
          errs.push(
            invalid(
              `${path}.setHeaderRoute.match[${j}]`,
              goValue.json('ptr:struct:v1alpha1.StringMatch', value),
              err,
            ),
          );
      });
    }
  }
  if (has(step.setMirrorRoute)) {
    if (!tr?.nginx && !tr?.istio && Object.keys(tr?.plugins ?? {}).length === 0) {
      errs.push(
        invalid(
          `${path}.setMirrorRoute`,
          goValue.json('struct:v1alpha1.SetMirrorRoute', step.setMirrorRoute),
          InvalidMessages.setMirrorRouteTrafficPolicy,
        ),
      );
    }
    (step.setMirrorRoute?.match ?? []).forEach((m, j) => {
      if (!isObject(m)) return;
      const at = `${path}.setMirrorRoute.match[${j}]`;
      for (const k of ['method', 'path'] as const) {
        if (m[k] === undefined || m[k] === null) continue;
        const err = stringMatchError(m[k]);
        if (err) errs.push(invalid(at, goValue.json('ptr:struct:v1alpha1.StringMatch', m[k]), err));
      }
      // Argo checks no header matches; the data plane cannot apply a broken one, so Kanary does
      if (tr?.nginx && isObject(m.headers)) {
        for (const [h, v] of Object.entries(m.headers)) {
          const err = stringMatchError(v);
          if (err)
            errs.push(
              invalid(`${at}.headers[${h}]`, goValue.json('ptr:struct:v1alpha1.StringMatch', v), err),
            );
        }
      }
    });
    const pct = step.setMirrorRoute?.percentage;
    if (tr?.nginx && pct !== undefined && pct !== null && (pct < 0 || pct > 100)) {
      errs.push(
        invalid(
          `${path}.setMirrorRoute.percentage`,
          goValue.number(pct),
          'must be between 0 and 100 (the percentage of matching requests mirrored)',
        ),
      );
    }
  }
  if (tr && (has(step.setHeaderRoute) || has(step.setMirrorRoute)) && !tr.managedRoutes) {
    errs.push(
      required(
        `${S}.trafficRouting.managedRoutes`,
        InvalidMessages.missingField('spec.strategy.canary.trafficRouting.managedRoutes'),
      ),
    );
  }
  if (tr?.managedRoutes) {
    const names = new Set(tr.managedRoutes.map((m) => m.name));
    if (has(step.setHeaderRoute) && !names.has(step.setHeaderRoute?.name ?? '')) {
      errs.push(
        invalid(
          `${path}.setHeaderRoute`,
          goQuote(step.setHeaderRoute?.name ?? ''),
          InvalidMessages.routeNotInManagedRoutes,
        ),
      );
    }
    if (has(step.setMirrorRoute) && !names.has(step.setMirrorRoute?.name ?? '')) {
      errs.push(
        invalid(
          `${path}.setMirrorRoute`,
          goQuote(step.setMirrorRoute?.name ?? ''),
          InvalidMessages.routeNotInManagedRoutes,
        ),
      );
    }
  }
  (step.experiment?.templates ?? []).forEach((t, j) => {
    if (!has(t.weight)) return;
    const fieldPath = `${path}.experiment.templates[${j}].weight`;
    if (!tr) {
      errs.push(
        invalid(
          fieldPath,
          goValue.number(t.weight as number),
          InvalidMessages.experimentWeightWithoutTrafficRouting,
        ),
      );
    } else if (!tr.alb && !tr.smi && !tr.istio && Object.keys(tr.plugins ?? {}).length === 0) {
      errs.push(
        invalid(fieldPath, goValue.number(t.weight as number), InvalidMessages.experimentWeightRouter),
      );
    }
  });
  return errs;
}

function validateAntiAffinity(a: CanaryStrategy['antiAffinity'], path: string): FieldError[] {
  if (!a) return [];
  const errs: FieldError[] = [];
  const preferred = a.preferredDuringSchedulingIgnoredDuringExecution;
  const req = a.requiredDuringSchedulingIgnoredDuringExecution;
  if (has(preferred) === has(req)) {
    const v = `antiAffinity.PreferredDuringSchedulingIgnoredDuringExecution: ${has(preferred)} antiAffinity.RequiredDuringSchedulingIgnoredDuringExecution: ${has(req)}`;
    errs.push(invalid(path, goQuote(v), InvalidMessages.antiAffinityStrategy));
  }
  if (preferred) {
    const w = preferred.weight ?? 0;
    if (w < 1 || w > 100)
      errs.push(invalid(`${path}.weight`, goValue.number(w), InvalidMessages.antiAffinityWeight));
  }
  return errs;
}

// ---- Kubernetes label and pod template checks (the subset Rollouts hit in practice) ----

const QUALIFIED_NAME_MSG =
  "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')";
const LABEL_VALUE_MSG =
  "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')";
const DNS1123_SUBDOMAIN_MSG =
  "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')";
const DNS1123_LABEL_MSG =
  "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')";

const NAME_RE = /^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$/;
const SUBDOMAIN_RE = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const DNS_LABEL_RE = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

/** validation.IsQualifiedName: the messages for a bad label key. */
function qualifiedNameErrors(key: string): string[] {
  const parts = key.split('/');
  let name = key;
  const msgs: string[] = [];
  if (parts.length === 2) {
    const [prefix = '', n = ''] = parts;
    name = n;
    if (prefix.length === 0) msgs.push('prefix part must be non-empty');
    else {
      if (prefix.length > 253) msgs.push('prefix part must be no more than 253 characters');
      if (!SUBDOMAIN_RE.test(prefix)) msgs.push(`prefix part ${DNS1123_SUBDOMAIN_MSG}`);
    }
  } else if (parts.length > 2) {
    return [
      "a qualified name must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]') with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')",
    ];
  }
  if (name.length === 0) msgs.push('name part must be non-empty');
  else if (name.length > 63) msgs.push('name part must be no more than 63 characters');
  if (name.length > 0 && !NAME_RE.test(name)) msgs.push(QUALIFIED_NAME_MSG);
  return msgs;
}

function labelValueErrors(value: string): string[] {
  const msgs: string[] = [];
  if (value.length > 63) msgs.push('must be no more than 63 characters');
  if (value !== '' && !NAME_RE.test(value)) msgs.push(LABEL_VALUE_MSG);
  return msgs;
}

function validateLabels(labels: Record<string, string> | undefined, path: string): FieldError[] {
  const errs: FieldError[] = [];
  for (const key of Object.keys(labels ?? {}).sort()) {
    for (const msg of qualifiedNameErrors(key)) errs.push(invalid(path, goQuote(key), msg));
    const value = String(labels?.[key] ?? '');
    for (const msg of labelValueErrors(value)) errs.push(invalid(path, goQuote(value), msg));
  }
  return errs;
}

function validateLabelSelector(s: V1LabelSelector, path: string): FieldError[] {
  const errs: FieldError[] = [];
  (s.matchExpressions ?? []).forEach((e, i) => {
    const p = `${path}.matchExpressions[${i}]`;
    const values = e.values ?? [];
    switch (e.operator) {
      case 'In':
      case 'NotIn':
        if (values.length === 0) {
          errs.push(required(`${p}.values`, "must be specified when `operator` is 'In' or 'NotIn'"));
        }
        break;
      case 'Exists':
      case 'DoesNotExist':
        if (values.length > 0) {
          errs.push(
            forbidden(`${p}.values`, "may not be specified when `operator` is 'Exists' or 'DoesNotExist'"),
          );
        }
        break;
      default:
        // LabelSelectorOperator is a named string type: field.Error prints its JSON, not %q
        errs.push(invalid(`${p}.operator`, goValue.namedString(e.operator), 'not a valid selector operator'));
    }
    for (const msg of qualifiedNameErrors(e.key)) errs.push(invalid(`${p}.key`, goQuote(e.key), msg));
  });
  errs.push(...validateLabels(s.matchLabels, `${path}.matchLabels`));
  return errs;
}

function validatePodTemplateForReplicaSet(
  template: V1PodTemplateSpec | undefined,
  selector: V1LabelSelector | undefined,
): FieldError[] {
  const errs: FieldError[] = [];
  const t = template ?? {};
  const labels = t.metadata?.labels;
  const selectorEmpty =
    !selector ||
    Object.keys(selector.matchLabels ?? {}).length + (selector.matchExpressions ?? []).length === 0;
  if (!selectorEmpty && !selectorMatches(selector, labels)) {
    errs.push(
      invalid(
        'spec.template.metadata.labels',
        goValue.stringMap(labels),
        '`selector` does not match template `labels`',
      ),
    );
  }
  // ValidatePodTemplateSpec checks them at `<template>.labels`, without `metadata`
  errs.push(...validateLabels(labels, 'spec.template.labels'));
  errs.push(...validateContainers(t.spec?.containers, 'spec.template.spec.containers'));
  const restartPolicy = t.spec?.restartPolicy ?? 'Always'; // defaulted before Argo validates
  if (restartPolicy !== 'Always') {
    errs.push(
      unsupported('spec.template.spec.restartPolicy', goValue.namedString(restartPolicy), ['Always']),
    );
  }
  if (t.spec?.activeDeadlineSeconds !== undefined && t.spec?.activeDeadlineSeconds !== null) {
    errs.push(
      forbidden(
        'spec.template.spec.activeDeadlineSeconds',
        'activeDeadlineSeconds in ReplicaSet is not Supported',
      ),
    );
  }
  return errs;
}

function validateContainers(containers: V1Container[] | undefined, path: string): FieldError[] {
  if (!containers || containers.length === 0) return [required(path, '')];
  const errs: FieldError[] = [];
  const seen = new Set<string>();
  containers.forEach((c, i) => {
    const p = `${path}[${i}]`;
    const name = c?.name ?? '';
    if (name === '') errs.push(required(`${p}.name`, ''));
    else {
      if (name.length > 63)
        errs.push(invalid(`${p}.name`, goQuote(name), 'must be no more than 63 characters'));
      if (!DNS_LABEL_RE.test(name)) errs.push(invalid(`${p}.name`, goQuote(name), DNS1123_LABEL_MSG));
      if (seen.has(name))
        errs.push({ field: `${p}.name`, type: 'Duplicate value', value: goQuote(name), detail: '' });
      seen.add(name);
    }
    if (!c?.image) errs.push(required(`${p}.image`, ''));
  });
  return errs;
}

// ---- References: the Services and Ingresses the spec names ----

export interface ReferencedObjects {
  /** by name; undefined (or absent) = not found */
  services?: Record<string, V1Service | undefined>;
  ingresses?: Record<string, V1Ingress | undefined>;
  /**
   * The analysis steps' templates (src/rollout/analysis.ts), checked where Argo
   * checks them: a missing one after the Services are found and before the
   * Ingresses; the templates' own problems after the Services' and before the
   * Ingresses'.
   */
  analysis?: { missing(): FieldError | undefined; invalid(): FieldError | undefined };
  /**
   * What Kanary's data plane replicas report serving (their Leases): a header or mirror route
   * through NGINX is refused unless one serves the stable Ingress's class. Undefined: not known
   * (lint, or the reports not listed yet), and not checked.
   */
  dataPlanes?: readonly { body: { class: string; defaultClass: boolean; namespace: string } }[];
}

export interface ReferenceOptions {
  /**
   * The controller treats a named object missing from `refs` as NotFound (an
   * InvalidSpec). Lint only checks what the file contains, so it passes false.
   */
  missingIsError?: boolean;
}

type ServiceRole =
  | 'StableService'
  | 'CanaryService'
  | 'PingService'
  | 'PongService'
  | 'ActiveService'
  | 'PreviewService';

const SERVICE_FIELD: Record<ServiceRole, string> = {
  ActiveService: 'spec.strategy.blueGreen.activeService',
  PreviewService: 'spec.strategy.blueGreen.previewService',
  StableService: 'spec.strategy.canary.stableService',
  CanaryService: 'spec.strategy.canary.canaryService',
  PingService: 'spec.strategy.canary.pingPong.pingService',
  PongService: 'spec.strategy.canary.pingPong.pongService',
};

/** The stable Ingress names of an NGINX-routed Rollout (stableIngresses wins when both are set). */
export function nginxStableIngressNames(r: Rollout): string[] {
  const nginx = r.spec.strategy?.canary?.trafficRouting?.nginx;
  if (!nginx) return [];
  if (nginx.stableIngresses) return [...nginx.stableIngresses];
  return nginx.stableIngress ? [nginx.stableIngress] : [];
}

/** Whether any path of any rule of the Ingress has `service` as its backend. */
export function ingressHasRuleWithService(ing: V1Ingress, service: string): boolean {
  for (const rule of ing.spec?.rules ?? []) {
    for (const path of rule.http?.paths ?? []) {
      if (path.backend?.service?.name === service) return true;
    }
  }
  return false;
}

/**
 * Validates the objects a canary Rollout references, in Argo's order: Service
 * lookups (stable, canary, ping, pong), the NGINX stableIngress/stableIngresses
 * choice, Ingress lookups, then each Service's selector and managed-by
 * annotation, then each Ingress's backends.
 */
export function validateRolloutReferences(
  rollout: Rollout,
  refs: ReferencedObjects,
  opts: ReferenceOptions = { missingIsError: true },
): ValidationResult {
  const r: Rollout = { ...rollout, spec: rollout.spec ?? {} };
  if (r.spec.strategy?.blueGreen) return validateBlueGreenReferences(r, refs, opts);
  const canary = r.spec.strategy?.canary;
  if (!canary) return { ok: true };
  const missingIsError = opts.missingIsError ?? true;
  const services = refs.services ?? {};
  const ingresses = refs.ingresses ?? {};

  const roles: [ServiceRole, string | undefined][] = [
    ['StableService', canary.stableService],
    ['CanaryService', canary.canaryService],
  ];
  if (canary.pingPong) {
    roles.push(['PingService', canary.pingPong.pingService], ['PongService', canary.pingPong.pongService]);
  }
  // lint reports Services in the order the file lists them; the controller in spec order
  if (!missingIsError) {
    const position = (name: string | undefined) => (name ? Object.keys(services).indexOf(name) : -1);
    roles.sort((a, b) => position(a[1]) - position(b[1]));
  }
  const found: [ServiceRole, V1Service][] = [];
  for (const [role, name] of roles) {
    if (!name) continue;
    const svc = services[name];
    if (!svc) {
      if (missingIsError)
        return result([invalid(SERVICE_FIELD[role], goQuote(name), `service ${goQuote(name)} not found`)]);
      continue;
    }
    found.push([role, svc]);
  }
  const missingTemplate = refs.analysis?.missing();
  if (missingTemplate) return result([missingTemplate]);

  const nginx = canary.trafficRouting?.nginx;
  const foundIngresses: V1Ingress[] = [];
  if (nginx) {
    const multiple = Array.isArray(nginx.stableIngresses) && nginx.stableIngresses.length > 0;
    const single = Boolean(nginx.stableIngress);
    if (multiple && single) {
      return result([
        internal('spec.strategy.canary.trafficRouting.nginx', InvalidMessages.nginxBothIngresses),
      ]);
    }
    if (!multiple && !single) {
      return result([internal('spec.strategy.canary.trafficRouting.nginx', InvalidMessages.nginxNoIngress)]);
    }
    for (const name of nginxStableIngressNames(r)) {
      const ing = ingresses[name];
      if (!ing) {
        if (!missingIsError) continue;
        const notFound = `ingress.networking.k8s.io ${goQuote(name)} not found`;
        return result([
          multiple
            ? invalid(
                'spec.strategy.canary.trafficRouting.nginx.StableIngresses',
                goValue.stringSlice(nginx.stableIngresses ?? []),
                notFound,
              )
            : invalid('spec.strategy.canary.trafficRouting.nginx.stableIngress', goQuote(name), notFound),
        ]);
      }
      foundIngresses.push(ing);
    }
  }

  const errs: FieldError[] = [];
  for (const [role, svc] of found) errs.push(...validateService(r, role, svc));
  const invalidTemplates = refs.analysis?.invalid();
  if (invalidTemplates) errs.push(invalidTemplates);
  if (nginx) {
    for (const ing of foundIngresses) {
      const name = ing.metadata?.name ?? '';
      const inList = (nginx.stableIngresses ?? []).includes(name);
      const field = inList
        ? 'spec.strategy.canary.trafficRouting.nginx.stableIngresses'
        : 'spec.strategy.canary.trafficRouting.nginx.stableIngress';
      const ingressName = inList ? name : (nginx.stableIngress ?? '');
      const stable = canary.stableService ?? '';
      if (!ingressHasRuleWithService(ing, stable)) {
        errs.push(
          invalid(
            field,
            goQuote(ingressName),
            `ingress \`${name}\` has no rules using service ${stable} backend`,
          ),
        );
      }
    }
    if (refs.dataPlanes) errs.push(...managedRoutesServed(r, foundIngresses, refs.dataPlanes));
  }
  return result(errs);
}

/** Argo's rule for ALB header routes: an exact value only. */
function albStringMatchError(m: unknown): string | undefined {
  if (m === undefined || m === null) return stringMatchError(m);
  const v = isObject(m) ? m : {};
  const set = (k: string) => typeof v[k] === 'string' && v[k] !== '';
  if (!set('exact') || set('regex') || set('prefix')) return InvalidMessages.setHeaderRouteAlbValue;
  return undefined;
}

/**
 * Header and mirror routes through NGINX work only where Kanary's data plane
 * serves the Ingress: some replica's report must claim the stable Ingress's
 * class (its annotation or ingressClassName; one with neither, the default
 * class) for the Rollout's namespace. Another ingress controller would serve
 * the managed-route Ingress as a second canary, or not at all, so the step
 * would be skipped: refused instead.
 */
function managedRoutesServed(
  r: Rollout,
  stables: V1Ingress[],
  dataPlanes: NonNullable<ReferencedObjects['dataPlanes']>,
): FieldError[] {
  const steps = r.spec.strategy?.canary?.steps ?? [];
  const routeStep = steps.findIndex((s) => has(s?.setHeaderRoute) || has(s?.setMirrorRoute));
  if (routeStep < 0) return [];
  const kind = has(steps[routeStep]?.setHeaderRoute) ? 'setHeaderRoute' : 'setMirrorRoute';
  const ns = r.metadata?.namespace ?? '';
  for (const ing of stables) {
    const cls = ingressClassOf(ing);
    if (dataPlanes.some((d) => reportServes(d.body, ns, cls))) continue;
    const what = cls === undefined ? 'the default ingress class' : `ingress class ${goQuote(cls)}`;
    return [
      forbidden(
        `spec.strategy.canary.steps[${routeStep}].${kind}`,
        `header and mirror routes through NGINX need Kanary's data plane, and no \`kanary ingress\` replica reports serving ${what} (of Ingress ${goQuote(ing.metadata?.name ?? '')}) for this namespace; the Rollout is not progressed so that no step is skipped`,
      ),
    ];
  }
  return [];
}

/**
 * The Services a blue-green Rollout references, in Argo's order: the active
 * and preview lookups (a missing one is `service "x" not found`), then each
 * Service's selector and managed-by annotation.
 */
function validateBlueGreenReferences(
  r: Rollout,
  refs: ReferencedObjects,
  opts: ReferenceOptions,
): ValidationResult {
  const bg = r.spec.strategy?.blueGreen ?? {};
  const services = refs.services ?? {};
  const missingIsError = opts.missingIsError ?? true;
  const found: [ServiceRole, V1Service][] = [];
  const roles: [ServiceRole, string | undefined][] = [
    ['ActiveService', bg.activeService],
    ['PreviewService', bg.previewService],
  ];
  for (const [role, name] of roles) {
    if (!name) continue;
    const svc = services[name];
    if (!svc) {
      if (missingIsError)
        return result([invalid(SERVICE_FIELD[role], goQuote(name), `service ${goQuote(name)} not found`)]);
      continue;
    }
    found.push([role, svc]);
  }
  // the pre-/post-promotion analyses' templates, as for canary's steps
  const missingTemplate = refs.analysis?.missing();
  if (missingTemplate) return result([missingTemplate]);
  const errs: FieldError[] = [];
  for (const [role, svc] of found) errs.push(...validateService(r, role, svc));
  const invalidTemplates = refs.analysis?.invalid();
  if (invalidTemplates) errs.push(invalidTemplates);
  return result(errs);
}

function validateService(r: Rollout, role: ServiceRole, svc: V1Service): FieldError[] {
  const errs: FieldError[] = [];
  const name = svc.metadata?.name ?? '';
  const field = SERVICE_FIELD[role];
  const templateLabels = r.spec.template?.metadata?.labels ?? {};
  const canary = r.spec.strategy?.canary;
  const ephemeral =
    role === 'StableService' && name === canary?.stableService
      ? canary?.stableMetadata?.labels
      : role === 'CanaryService' && name === canary?.canaryService
        ? canary?.canaryMetadata?.labels
        : undefined;
  // Go iterates a map here (random order); sorting makes the first error stable
  const selector = svc.spec?.selector ?? {};
  for (const key of Object.keys(selector).sort()) {
    if (key === POD_TEMPLATE_HASH_LABEL) continue;
    const value = selector[key];
    const matchesTemplate = Object.hasOwn(templateLabels, key) && templateLabels[key] === value;
    const matchesEphemeral =
      ephemeral !== undefined && Object.hasOwn(ephemeral, key) && ephemeral[key] === value;
    if (!matchesTemplate && !matchesEphemeral) {
      errs.push(
        invalid(
          field,
          goQuote(name),
          `Service ${goQuote(name)} has unmatch label ${goQuote(key)} in rollout`,
        ),
      );
    }
  }
  const managedBy = svc.metadata?.annotations?.[MANAGED_BY_ANNOTATION];
  if (managedBy !== undefined && managedBy !== r.metadata?.name) {
    errs.push(invalid(field, goQuote(name), `Service ${goQuote(name)} is managed by another Rollout`));
  }
  return errs;
}
