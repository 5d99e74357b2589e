/**
 * The condition language of analysis metrics (`successCondition`,
 * `failureCondition`): expr-lang syntax and semantics, as Argo Rollouts
 * evaluates them, implemented here (no eval, no code generation). See
 * docs/analysis.md, section "Conditions", for what is supported.
 *
 *   const c = compileCondition('result[0] >= 0.95');
 *   if (c instanceof ConditionSyntaxError) ...
 *   const ok = evaluateCondition(c, { result: [0.97] }); // true, or an ConditionEvalError
 */
import type { Node } from './ast.ts';
import { check, hostType, type Type } from './checker.ts';
import { ConditionEvalError, ConditionSyntaxError, Fault } from './errors.ts';
import { type Budget, defaultBudget, run } from './interpreter.ts';
import { defaultLimits, type Limits, parse } from './parser.ts';
import { fromHost, typeName, type Value } from './values.ts';

export { ConditionEvalError, ConditionSyntaxError } from './errors.ts';
export type { Budget } from './interpreter.ts';
export type { Limits } from './parser.ts';
export type { Value } from './values.ts';

export interface Compiled {
  readonly source: string;
  readonly node: Node;
  readonly variables: readonly string[];
}

export interface CompileOptions {
  /** Names the condition may use; Argo gives a metric condition `result` only. */
  variables?: readonly string[];
  limits?: Partial<Limits>;
}

export function compileCondition(
  source: string,
  options: CompileOptions = {},
): Compiled | ConditionSyntaxError {
  const variables = options.variables ?? ['result'];
  try {
    const node = parse(source, variables, { ...defaultLimits, ...options.limits });
    return { source, node, variables };
  } catch (e) {
    if (e instanceof Fault) return new ConditionSyntaxError(e.reason, source, e.at);
    if (e instanceof RangeError)
      return new ConditionSyntaxError(`compilation failed: ${e.message}`, source, 0);
    throw e;
  }
}

/**
 * Evaluates a compiled condition. `env` holds the variables (e.g. `result`),
 * as decoded from JSON: numbers are floats, as Go decodes them; a bigint is an
 * int; a Float64Array is a Prometheus vector ([]float64). As Argo compiles the
 * condition against each result, the tree is first type-checked against the
 * Go types of the variables. Returns the value (ints as bigint) or the ConditionEvalError.
 */
export function evaluate(
  compiled: Compiled,
  env: Record<string, unknown>,
  budget: Partial<Budget> = {},
): Value | ConditionEvalError {
  try {
    const variables: Record<string, Value> = {};
    const types: Record<string, Type> = {};
    for (const name of compiled.variables) {
      variables[name] = fromHost(env[name]);
      types[name] = hostType(env[name]);
    }
    check(compiled.node, types);
    return run(compiled.node, variables, variables.result ?? null, { ...defaultBudget, ...budget });
  } catch (e) {
    if (e instanceof Fault) return new ConditionEvalError(e.reason, compiled.source, e.at);
    if (e instanceof RangeError || e instanceof TypeError)
      return new ConditionEvalError(e.message, compiled.source, 0);
    throw e;
  }
}

/** As Argo's EvalCondition: the value must be a boolean ("expected bool, but got float64"). */
export function evaluateCondition(
  compiled: Compiled,
  env: Record<string, unknown>,
  budget: Partial<Budget> = {},
): boolean | ConditionEvalError {
  const value = evaluate(compiled, env, budget);
  if (value instanceof ConditionEvalError || typeof value === 'boolean') return value;
  return new ConditionEvalError(`expected bool, but got ${typeName(value)}`, compiled.source, -1);
}
