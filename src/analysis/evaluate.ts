/**
 * A measurement's phase from the provider's result and the metric's
 * conditions, as Argo's utils/evaluate EvaluateResult: no conditions →
 * Successful; only a successCondition → Failed when it is false; only a
 * failureCondition → Successful when it is false; both → Failed if the failure
 * condition holds, Inconclusive if neither does. A condition that does not
 * compile or run, or is not a boolean, makes the measurement an Error.
 */
import { ConditionSyntaxError, compileCondition, evaluateCondition } from './expr/index.ts';
import type { AnalysisPhase, Metric } from './types.ts';

export type Verdict = { phase: AnalysisPhase; error?: undefined } | { phase: 'Error'; error: string };

export function evaluateResult(
  result: unknown,
  metric: Pick<Metric, 'successCondition' | 'failureCondition'>,
): Verdict {
  const success = metric.successCondition ?? '';
  const failure = metric.failureCondition ?? '';
  let successHolds = false;
  let failureHolds = false;
  if (success !== '') {
    const r = evalCondition(result, success);
    if (typeof r === 'string')
      return { phase: 'Error', error: formatEvalError(r, 'successCondition', success, result) };
    successHolds = r;
  }
  if (failure !== '') {
    const r = evalCondition(result, failure);
    if (typeof r === 'string')
      return { phase: 'Error', error: formatEvalError(r, 'failureCondition', failure, result) };
    failureHolds = r;
  }
  if (success === '' && failure === '') return { phase: 'Successful' };
  if (failure === '') failureHolds = !successHolds;
  if (success === '') successHolds = !failureHolds;
  if (failureHolds) return { phase: 'Failed' };
  if (!successHolds) return { phase: 'Inconclusive' };
  return { phase: 'Successful' };
}

/** true/false, or the reason it could not be evaluated (Argo keeps expr's message, without its position). */
function evalCondition(result: unknown, condition: string): boolean | string {
  const compiled = compileCondition(condition);
  if (compiled instanceof ConditionSyntaxError) return compiled.reason;
  const v = evaluateCondition(compiled, { result });
  return typeof v === 'boolean' ? v : v.reason;
}

function formatEvalError(reason: string, kind: string, expression: string, result: unknown): string {
  if (isNilOrEmpty(result))
    return `could not evaluate ${kind} "${expression}": metric result is nil or empty: no data returned from the metric provider`;
  return `could not evaluate ${kind} "${expression}": ${reason}`;
}

function isNilOrEmpty(result: unknown): boolean {
  if (result === null || result === undefined) return true;
  if (Array.isArray(result) || result instanceof Float64Array) return result.length === 0;
  return false;
}
