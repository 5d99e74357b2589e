/**
 * `{{args.name}}` substitution in a metric, as Argo does it
 * (utils/analysis/factory.go ResolveMetricArgs → utils/template ResolveArgs):
 * the whole metric is templated, tags are `{{` … `}}` with the content
 * trimmed (so `{{ args.x }}` works), every argument must have a value, and a
 * tag that names no argument fails the resolution ("failed to resolve {{x}}").
 */
import type { Argument, Metric } from './types.ts';

export class ArgsError extends Error {
  override readonly name = 'ArgsError';
}

/** The value Argo puts in place of a secret while it only plans (getResolvedMetricsWithoutSecrets). */
export const SECRET_PLACEHOLDER = 'temp-for-secret';

/** Args with every secretKeyRef replaced by a placeholder value, for planning without reading Secrets. */
export function argsWithoutSecrets(args: readonly Argument[]): Argument[] {
  return args.map((a) =>
    a.valueFrom?.secretKeyRef ? { name: a.name, value: SECRET_PLACEHOLDER } : { ...a },
  );
}

/** Substitutes the args into every string of the metric; an ArgsError as Argo words it. */
export function resolveMetricArgs(metric: Metric, args: readonly Argument[]): Metric | ArgsError {
  const values = new Map<string, string>();
  for (const a of args) {
    if (typeof a.value !== 'string') return new ArgsError(`argument "${a.name}" was not supplied`);
    values.set(`args.${a.name}`, a.value);
  }
  let failure: ArgsError | undefined;
  const substitute = (s: string): string => {
    const r = templateString(s, values);
    if (r instanceof ArgsError) {
      failure = r;
      return s;
    }
    return r;
  };
  const walk = (v: unknown, depth: number): unknown => {
    if (depth > 64) return v;
    if (typeof v === 'string') return substitute(v);
    if (Array.isArray(v)) return v.map((x) => walk(x, depth + 1));
    if (v && typeof v === 'object') {
      const out: Record<string, unknown> = {};
      for (const [k, x] of Object.entries(v)) out[substitute(k)] = walk(x, depth + 1);
      return out;
    }
    return v;
  };
  const resolved = walk(metric, 0) as Metric;
  return failure ?? resolved;
}

/** fasttemplate with `{{`/`}}` and Argo's lookup: the last unresolved tag is the error. */
export function templateString(s: string, values: ReadonlyMap<string, string>): string | ArgsError {
  if (!s.includes('{{')) return s;
  let out = '';
  let rest = s;
  let failure: ArgsError | undefined;
  for (;;) {
    const open = rest.indexOf('{{');
    if (open < 0) break;
    const close = rest.indexOf('}}', open + 2);
    if (close < 0) return new ArgsError(`Cannot find end tag="}}" in the template=${JSON.stringify(s)}`);
    out += rest.slice(0, open);
    const tag = rest.slice(open + 2, close);
    const value = values.get(tag.trim());
    if (value === undefined) failure = new ArgsError(`failed to resolve {{${tag}}}`);
    else out += value;
    rest = rest.slice(close + 2);
  }
  return failure ?? out + rest;
}
