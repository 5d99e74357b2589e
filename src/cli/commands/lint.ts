/**
 * `lint -f FILE`: checks Rollout manifests without a cluster, with the checks
 * and messages the controller uses (src/api/validation.ts, then what Kanary
 * refuses to run, src/api/unsupported.ts) plus the two things
 * `kubectl argo rollouts lint` adds: strict decoding (an unknown field is an
 * error, as Go's DisallowUnknownFields makes it) and the Services and
 * Ingresses found in the same file; and the analysis steps against the
 * AnalysisTemplates in the file; and every AnalysisTemplate and
 * ClusterAnalysisTemplate itself, as the AnalysisRun controller would find it
 * (its metrics' limits, arguments, providers Kanary runs, and the syntax of
 * each condition). `--argo-only` leaves out Kanary's own refusals and the
 * template checks, to check a manifest as upstream's lint does.
 */
import { readFileSync } from 'node:fs';
import type { V1Ingress, V1Service } from '@kubernetes/client-node';
import type { Command } from 'commander';
import { parseAllDocuments } from 'yaml';
import { ArgsError, resolveMetricArgs, SECRET_PLACEHOLDER } from '../../analysis/args.ts';
import { ConditionSyntaxError, compileCondition } from '../../analysis/expr/index.ts';
import type { Argument, Metric } from '../../analysis/types.ts';
import { validateMetric } from '../../analysis/validate.ts';
import { formatFieldError } from '../../api/field-error.ts';
import { GO_STRUCTS, POD_TEMPLATE_ROOT } from '../../api/podtemplate-fields.gen.ts';
import type { Rollout } from '../../api/types.ts';
import { unsupportedFeatures } from '../../api/unsupported.ts';
import { validateRollout, validateRolloutReferences } from '../../api/validation.ts';
import { type AnalysisTemplateObject, stepAnalysisChecks } from '../../rollout/analysis.ts';
import { UserError } from '../errors.ts';

/**
 * Fields of the Argo Rollouts types a Rollout manifest is decoded into, where a
 * typo is most likely. A type listed here rejects keys it does not know; types
 * not listed (analysis, anti-affinity, routers other than NGINX, …) are not
 * checked, so a valid manifest is never rejected for a field we did not list.
 */
const POD_META = 'struct:v1.ObjectMeta';

const ROLLOUT_TYPES: Record<string, Record<string, string>> = {
  Rollout: { apiVersion: '', kind: '', metadata: POD_META, spec: 'RolloutSpec', status: '' },
  RolloutSpec: {
    analysis: '',
    minReadySeconds: '',
    paused: '',
    progressDeadlineAbort: '',
    progressDeadlineSeconds: '',
    replicas: '',
    restartAt: '',
    revisionHistoryLimit: '',
    rollbackWindow: '',
    selector: 'struct:v1.LabelSelector',
    strategy: 'RolloutStrategy',
    template: POD_TEMPLATE_ROOT,
    workloadRef: 'WorkloadRef',
  },
  RolloutStrategy: { blueGreen: 'BlueGreenStrategy', canary: 'CanaryStrategy' },
  CanaryStrategy: {
    abortScaleDownDelaySeconds: '',
    analysis: '',
    antiAffinity: '',
    canaryMetadata: '',
    canaryService: '',
    dynamicStableScale: '',
    maxSurge: '',
    maxUnavailable: '',
    minPodsPerReplicaSet: '',
    pingPong: '',
    replicaProgressThreshold: '',
    scaleDownDelayRevisionLimit: '',
    scaleDownDelaySeconds: '',
    stableMetadata: '',
    stableService: '',
    steps: '[]CanaryStep',
    trafficRouting: 'TrafficRouting',
  },
  BlueGreenStrategy: {
    abortScaleDownDelaySeconds: '',
    activeMetadata: '',
    activeService: '',
    antiAffinity: '',
    autoPromotionEnabled: '',
    autoPromotionSeconds: '',
    maxUnavailable: '',
    postPromotionAnalysis: '',
    prePromotionAnalysis: '',
    previewMetadata: '',
    previewReplicaCount: '',
    previewService: '',
    scaleDownDelayRevisionLimit: '',
    scaleDownDelaySeconds: '',
  },
  CanaryStep: {
    analysis: '',
    experiment: '',
    pause: 'RolloutPause',
    plugin: '',
    setCanaryScale: 'SetCanaryScale',
    setHeaderRoute: '',
    setMirrorRoute: '',
    setWeight: '',
  },
  RolloutPause: { duration: '' },
  SetCanaryScale: { matchTrafficWeight: '', replicas: '', weight: '' },
  WorkloadRef: { apiVersion: '', kind: '', name: '', scaleDown: '' },
  TrafficRouting: {
    alb: '',
    ambassador: '',
    apisix: '',
    appMesh: '',
    istio: '',
    managedRoutes: '',
    maxTrafficWeight: '',
    nginx: 'NginxTrafficRouting',
    plugins: '',
    smi: '',
    traefik: '',
  },
  NginxTrafficRouting: {
    additionalIngressAnnotations: '',
    annotationPrefix: '',
    canaryIngressAnnotations: '',
    stableIngress: '',
    stableIngresses: '',
  },
};
function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Known field names of a type, or undefined when the type is not checked. */
function fieldsOf(type: string): Record<string, string> | undefined {
  if (ROLLOUT_TYPES[type]) return ROLLOUT_TYPES[type];
  const go = GO_STRUCTS[type.replace(/^struct:/, '')];
  return go ? Object.fromEntries(go.map(([name, , t]) => [name, t])) : undefined;
}

/** The element type of a slice, pointer or plain type spelled as in the generated Kubernetes field table. */
function unwrap(type: string): { type: string; list: boolean } {
  let t = type;
  let list = false;
  for (;;) {
    if (t.startsWith('ptr:')) t = t.slice(4);
    else if (t.startsWith('slice:')) {
      t = t.slice(6);
      list = true;
    } else if (t.startsWith('[]')) {
      t = t.slice(2);
      list = true;
    } else return { type: t, list };
  }
}

/**
 * The first field, in document order, that the type being decoded does not
 * have: what Go's strict decoder stops at. Undefined when all fields are known.
 */
export function firstUnknownField(value: unknown, type = 'Rollout'): string | undefined {
  const { type: t, list } = unwrap(type);
  if (list) {
    if (!Array.isArray(value)) return undefined;
    for (const item of value) {
      const found = firstUnknownField(item, t);
      if (found) return found;
    }
    return undefined;
  }
  const fields = fieldsOf(t);
  if (!fields || !isObject(value)) return undefined;
  for (const [key, v] of Object.entries(value)) {
    const fieldType = fields[key];
    if (fieldType === undefined) return key;
    if (fieldType) {
      const found = firstUnknownField(v, fieldType);
      if (found) return found;
    }
  }
  return undefined;
}

export interface LintResult {
  rollouts: number;
  /** AnalysisTemplates and ClusterAnalysisTemplates checked */
  templates: number;
  /** problems in file order (Rollouts first); the first one is what upstream reports */
  problems: { rollout?: string; template?: string; message: string }[];
}

/**
 * The value an argument stands for while a template is checked alone: its own
 * value, else a placeholder (the Rollout or the run supplies it; `0` reads as
 * a number and, inside quotes, as a string, so conditions still parse).
 */
const ARG_PLACEHOLDER = '0';

/**
 * One AnalysisTemplate or ClusterAnalysisTemplate as the AnalysisRun
 * controller reads it: arguments (`{{args.x}}` of no declared arg; an arg
 * with both value and valueFrom), each metric's checks (limits, counts,
 * durations, exactly one provider, one that Kanary runs), and the conditions'
 * syntax through the same compiler the controller evaluates them with.
 * Messages are the controller's, prefixed with where they are.
 */
export function lintAnalysisTemplate(t: Record<string, unknown>): string[] {
  const spec = (isObject(t.spec) ? t.spec : {}) as { args?: unknown; metrics?: unknown };
  const problems: string[] = [];
  const args: Argument[] = [];
  const declared = Array.isArray(spec.args) ? spec.args : [];
  for (const [i, a] of declared.entries()) {
    const arg = (isObject(a) ? a : {}) as unknown as Argument;
    if (typeof arg.name !== 'string' || arg.name === '') {
      problems.push(`spec.args[${i}].name: Required value`);
      continue;
    }
    if (arg.valueFrom && arg.value !== undefined)
      problems.push(`spec.args[${i}]: arg '${arg.name}' has both Value and ValueFrom fields`);
    const value = arg.valueFrom?.secretKeyRef
      ? SECRET_PLACEHOLDER
      : typeof arg.value === 'string'
        ? arg.value
        : ARG_PLACEHOLDER;
    args.push({ name: arg.name, value });
  }
  const metrics = Array.isArray(spec.metrics) ? spec.metrics : [];
  if (metrics.length === 0) problems.push('spec.metrics: Required value: no metrics specified');
  const names = new Set<string>();
  for (const [i, raw] of metrics.entries()) {
    const at = `spec.metrics[${i}]`;
    if (!isObject(raw)) {
      problems.push(`${at}: a metric must be an object`);
      continue;
    }
    const metric = raw as unknown as Metric;
    const label = typeof metric.name === 'string' && metric.name ? `${at} (${metric.name})` : at;
    if (typeof metric.name !== 'string' || metric.name === '') problems.push(`${at}.name: Required value`);
    else if (names.has(metric.name)) problems.push(`${label}: duplicate name '${metric.name}'`);
    else names.add(metric.name);
    const resolved = resolveMetricArgs(metric, args);
    if (resolved instanceof ArgsError) {
      const hint = /^failed to resolve \{\{\s*args\./.test(resolved.message)
        ? ' (not declared in spec.args)'
        : '';
      problems.push(`${label}: Unable to resolve metric arguments: ${resolved.message}${hint}`);
      continue;
    }
    const invalid = validateMetric(resolved);
    if (invalid) problems.push(`${label}: ${invalid}`);
    for (const key of ['successCondition', 'failureCondition'] as const) {
      const condition = resolved[key];
      if (condition === undefined || condition === '') continue;
      if (typeof condition !== 'string') {
        problems.push(`${label}.${key}: must be a string`);
        continue;
      }
      const compiled = compileCondition(condition);
      if (compiled instanceof ConditionSyntaxError) problems.push(`${label}.${key}: ${compiled.message}`);
    }
  }
  return problems;
}

/** Services and Ingresses a Rollout's routing points at, among those in the same file (upstream's matching). */
function referencedIngresses(r: Rollout, ingresses: V1Ingress[]): Record<string, V1Ingress> {
  const canary = r.spec?.strategy?.canary;
  const tr = canary?.trafficRouting as
    | { nginx?: unknown; alb?: { rootService?: string }; smi?: { rootService?: string } }
    | undefined;
  if (!canary || !tr) return {};
  let service: string | undefined;
  if (tr.nginx) service = canary.stableService;
  else if (tr.alb) service = tr.alb.rootService || canary.stableService;
  else if (tr.smi) service = tr.smi.rootService;
  if (!service) return {};
  const routed = ingresses.filter((ing) =>
    (ing.spec?.rules ?? []).some((rule) =>
      (rule.http?.paths ?? []).some((p) => p.backend?.service?.name === service),
    ),
  );
  return Object.fromEntries(routed.map((ing) => [ing.metadata?.name ?? '', ing]));
}

export interface LintOptions {
  /** only Argo Rollouts' own checks: leave out what Kanary refuses to run */
  argoOnly?: boolean;
}

/** Lints the YAML/JSON text of one file. Pure: no cluster, no file system. */
export function lintText(text: string, opts: LintOptions = {}): LintResult {
  const docs = parseAllDocuments(text);
  const objects: Record<string, unknown>[] = [];
  for (const doc of Array.isArray(docs) ? docs : [docs]) {
    if (doc.errors.length > 0) {
      const e = doc.errors[0];
      return {
        rollouts: 0,
        templates: 0,
        problems: [{ message: `invalid YAML: ${e?.message ?? 'parse error'}` }],
      };
    }
    const value = doc.toJS();
    if (value === null || value === undefined) continue;
    if (!isObject(value))
      return { rollouts: 0, templates: 0, problems: [{ message: 'a manifest must be an object' }] };
    objects.push(value);
  }
  const isRollout = (o: Record<string, unknown>) =>
    typeof o.apiVersion === 'string' && o.apiVersion.startsWith('argoproj.io/') && o.kind === 'Rollout';
  const rollouts = objects.filter(isRollout) as unknown as Rollout[];
  const services: Record<string, V1Service> = {};
  const ingresses: V1Ingress[] = [];
  const templates: Record<string, AnalysisTemplateObject> = {};
  const clusterTemplates: Record<string, AnalysisTemplateObject> = {};
  for (const o of objects) {
    const name = (o.metadata as { name?: string } | undefined)?.name ?? '';
    if (String(o.apiVersion).startsWith('argoproj.io/') && o.kind === 'AnalysisTemplate')
      templates[name] = o as unknown as AnalysisTemplateObject;
    if (String(o.apiVersion).startsWith('argoproj.io/') && o.kind === 'ClusterAnalysisTemplate')
      clusterTemplates[name] = o as unknown as AnalysisTemplateObject;
    if (o.kind === 'Service' && o.apiVersion === 'v1') services[name] = o as V1Service;
    if (o.kind === 'Ingress' && /^(networking\.k8s\.io|extensions)\//.test(String(o.apiVersion)))
      ingresses.push(o as V1Ingress);
  }

  const problems: LintResult['problems'] = [];
  for (const r of rollouts) {
    const rollout = r.metadata?.name;
    const unknown = firstUnknownField(r);
    if (unknown) {
      problems.push({
        rollout,
        message: `error unmarshaling JSON: while decoding JSON: json: unknown field "${unknown}"`,
      });
      continue;
    }
    const spec = validateRollout(r);
    if (!spec.ok) {
      for (const e of spec.errors.length > 0 ? spec.errors : [undefined]) {
        problems.push({ rollout, message: e ? formatFieldError(e) : spec.message });
      }
      continue;
    }
    // the controller refuses these before it looks at the Services and Ingresses (so they come
    // first); lint goes on to the references, so that fixing one problem does not reveal another
    if (!opts.argoOnly) {
      for (const e of unsupportedFeatures(r)) problems.push({ rollout, message: formatFieldError(e) });
    }
    // analysis steps against the templates in the same file (one not in the file may be in the
    // cluster); the controller's check, which `kubectl argo rollouts lint` does not make
    const analysis = opts.argoOnly
      ? undefined
      : stepAnalysisChecks(r, { templates, clusterTemplates }, { missingIsError: false });
    const refs = validateRolloutReferences(
      r,
      { services, ingresses: referencedIngresses(r, ingresses), analysis },
      { missingIsError: false },
    );
    if (!refs.ok) problems.push({ rollout, message: refs.message });
  }
  let checked = 0;
  if (!opts.argoOnly) {
    for (const o of objects) {
      const isTemplate =
        String(o.apiVersion).startsWith('argoproj.io/') &&
        (o.kind === 'AnalysisTemplate' || o.kind === 'ClusterAnalysisTemplate');
      if (!isTemplate) continue;
      checked++;
      const template = `${o.kind} "${(o.metadata as { name?: string } | undefined)?.name ?? ''}"`;
      for (const message of lintAnalysisTemplate(o)) problems.push({ template, message });
    }
  }
  return { rollouts: rollouts.length, templates: checked, problems };
}

function readInput(file: string): string {
  try {
    return readFileSync(file === '-' ? 0 : file, 'utf8');
  } catch (err) {
    const code = (err as { code?: string }).code;
    if (code === 'ENOENT') throw new UserError(`file "${file}" does not exist`);
    if (code === 'EISDIR') throw new UserError(`"${file}" is a directory; pass a manifest file`);
    throw new UserError(`cannot read "${file}": ${(err as Error).message}`);
  }
}

export function registerLintCommand(program: Command): void {
  program
    .command('lint')
    .description(
      "check Rollout manifests and AnalysisTemplates offline with the controllers' checks and messages (exit 1 on problems)",
    )
    .requiredOption('-f, --filename <file...>', 'manifest file(s) to check; - reads standard input')
    .option(
      '--argo-only',
      "only Argo Rollouts' checks (as `kubectl argo rollouts lint`), not whether Kanary can run the Rollout",
    )
    .action((o: { filename: string[]; argoOnly?: boolean }) => {
      // each problem in upstream's words; where it is goes on its own line when that is not obvious
      const problems: { message: string; where?: string }[] = [];
      let total = 0;
      let templates = 0;
      for (const file of o.filename) {
        const result = lintText(readInput(file), { argoOnly: o.argoOnly });
        total += result.rollouts;
        templates += result.templates;
        const several = o.filename.length > 1 || result.rollouts + result.templates > 1;
        for (const p of result.problems) {
          // a template's problem always says which template, as a Rollout's does when there are several
          const what = p.template ?? (p.rollout && several ? `rollout "${p.rollout}"` : '');
          problems.push({
            message: p.message,
            where: several || p.template ? `in ${what ? `${what} of ` : ''}${file}` : undefined,
          });
        }
        if (result.rollouts === 0 && result.templates === 0 && result.problems.length === 0)
          problems.push({ message: `no Rollout found in ${file}` });
      }
      const last = problems.pop();
      if (last) {
        for (const p of problems)
          process.stderr.write(`error: ${p.message}\n${p.where ? `  ${p.where}\n` : ''}`);
        throw new UserError(last.message, { hint: last.where });
      }
      if (process.stderr.isTTY) {
        const counted = [`${total} Rollout${total === 1 ? '' : 's'}`];
        if (templates > 0) counted.push(`${templates} analysis template${templates === 1 ? '' : 's'}`);
        process.stderr.write(`✔ ${counted.join(', ')} valid\n`);
      }
    });
}
