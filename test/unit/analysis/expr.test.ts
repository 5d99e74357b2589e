/**
 * Kanary's condition interpreter against the real expr-lang: every case of
 * test/golden/expr/cases.json, as evaluated by hack/exprgolden (expr v1.17.7,
 * the version Argo Rollouts v1.10.2 pins) into results.json
 * (`npm run golden:expr` regenerates it).
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import {
  type Compiled,
  ConditionEvalError,
  ConditionSyntaxError,
  compileCondition,
  evaluate,
  evaluateCondition,
  type Value,
} from '../../../src/analysis/expr/index.ts';

interface Case {
  name: string;
  expr: string;
  result?: unknown;
}

interface Golden {
  name: string;
  variant: 'web' | 'prometheus';
  value?: unknown;
  type?: string;
  error?: boolean;
  phase?: 'compile' | 'run';
  message?: string;
  full?: string;
  condition?: string;
}

const dir = join(import.meta.dirname, '..', '..', 'golden', 'expr');
const cases: Case[] = JSON.parse(readFileSync(join(dir, 'cases.json'), 'utf8'));
const goldens: Golden[] = JSON.parse(readFileSync(join(dir, 'results.json'), 'utf8'));
const byName = new Map(cases.map((c) => [c.name, c]));

/**
 * Where Kanary knowingly differs from expr, and why. Kanary's checks are
 * dynamic: expr type-checks with the Go type of `result` (float64, []float64,
 * map[string]interface {}) and of literals, so it refuses some expressions at
 * compile time that Kanary refuses while evaluating (same outcome: an error,
 * different wording), and in a few cases expr's optimizer changes the result.
 */
const known: Record<string, string> = {
  'example/asInt-float': "asInt gives Go's int64; Kanary has one integer type, named int",
  'logic/result-left-non-bool':
    "expr's optimizer turns `x and true` into `x` without checking that x is a bool; Kanary requires a bool, as expr's VM does",
  'logic/result-or-non-bool':
    "expr's optimizer turns `x || true` into `true`; Kanary requires x to be a bool",
  'strings/31': "the message of a regular expression syntax error is JavaScript's, not Go's RE2's",
  'member/method': 'Kanary refuses method calls when compiling',
  'builtin/95': 'now() is refused when compiling (time values are not supported)',
  'builtin/96': 'toJSON() is refused when compiling',
  'builtin/97': 'reduce() is refused when compiling',
  'optimizer/filter-first':
    "expr's optimizer turns filter(...)[0] into a search whose miss reads as reflect's own message",
  'optimizer/filter-last':
    "expr's optimizer turns filter(...)[-1] into a search whose miss reads as reflect's own message",
};

/** {"$float": "NaN"} in JSON stands for a float JSON cannot write. */
function decodeSpecial(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(decodeSpecial);
  if (v && typeof v === 'object') {
    const o = v as Record<string, unknown>;
    if (Object.keys(o).length === 1 && typeof o.$float === 'string')
      return { NaN: Number.NaN, '+Inf': Infinity, '-Inf': -Infinity }[o.$float];
    return Object.fromEntries(Object.entries(o).map(([k, x]) => [k, decodeSpecial(x)]));
  }
  return v;
}

/** Our value in the golden's JSON shape: ints as numbers, NaN/Inf as {"$float"}. */
function encode(v: Value): unknown {
  if (typeof v === 'bigint') return Number(v);
  if (typeof v === 'number' && !Number.isFinite(v))
    return { $float: Number.isNaN(v) ? 'NaN' : v > 0 ? '+Inf' : '-Inf' };
  if (Array.isArray(v)) return v.map(encode);
  if (v && typeof v === 'object')
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, encode(x)]));
  return v;
}

/** int, float, or the Go type for anything else: our typeName does not track typed slices. */
function scalarType(goType: string): string {
  if (/^u?int(8|16|32|64)?$/.test(goType)) return 'int';
  if (goType === 'float64') return 'float';
  return goType.startsWith('[]') ? 'array' : goType.startsWith('map[') ? 'map' : goType;
}

function ourType(v: Value): string {
  if (typeof v === 'bigint') return 'int';
  if (typeof v === 'number') return 'float';
  if (v === null) return '<nil>';
  if (Array.isArray(v)) return 'array';
  return typeof v === 'object' ? 'map' : typeof v === 'boolean' ? 'bool' : typeof v;
}

type Outcome = { compiled: Compiled; value: Value | ConditionEvalError } | { syntax: ConditionSyntaxError };

/** The env of a case: the web provider's JSON, or the Prometheus provider's []float64. */
function envOf(g: Golden, c: Case): { result: unknown } {
  const result = decodeSpecial(c.result ?? null);
  return { result: g.variant === 'prometheus' ? Float64Array.from(result as number[]) : result };
}

function ours(g: Golden, c: Case): Outcome {
  const compiled = compileCondition(c.expr);
  if (compiled instanceof ConditionSyntaxError) return { syntax: compiled };
  return { compiled, value: evaluate(compiled, envOf(g, c)) };
}

/** The differences between our outcome and expr's, as readable lines (empty when they agree). */
function compare(g: Golden, c: Case): string[] {
  const o = ours(g, c);
  const skip = known[`${g.name}@${g.variant}`] ?? known[g.name];
  const problems: string[] = [];
  const err = 'syntax' in o ? o.syntax : o.value instanceof ConditionEvalError ? o.value : undefined;
  if (g.error) {
    if (!err)
      problems.push(
        `expr fails (${g.message}), we give ${JSON.stringify(encode((o as { value: Value }).value))}`,
      );
    else if (err.reason !== g.message)
      problems.push(`message: expr ${JSON.stringify(g.message)}, we ${JSON.stringify(err.reason)}`);
    else if (err.message !== g.full)
      problems.push(`position: expr ${JSON.stringify(g.full)}, we ${JSON.stringify(err.message)}`);
  } else if (err) problems.push(`expr gives ${JSON.stringify(g.value)}, we fail: ${err.reason}`);
  else {
    const value = (o as { value: Value }).value;
    try {
      assert.deepEqual(encode(value), g.value ?? null);
    } catch {
      problems.push(`value: expr ${JSON.stringify(g.value)}, we ${JSON.stringify(encode(value))}`);
    }
    if (g.type && scalarType(g.type) !== ourType(value))
      problems.push(`type: expr ${g.type}, we ${ourType(value)}`);
    if (g.condition && !['array', 'map'].includes(scalarType(g.type ?? ''))) {
      const cond = evaluateCondition((o as { compiled: Compiled }).compiled, envOf(g, c));
      const got = cond instanceof ConditionEvalError ? cond.reason : String(cond);
      if (got !== g.condition)
        problems.push(`condition: expr ${JSON.stringify(g.condition)}, we ${JSON.stringify(got)}`);
    }
  }
  if (skip && problems.length === 0) return [`listed in known but agrees with expr now: ${skip}`];
  return skip ? [] : problems;
}

describe('conditions agree with expr-lang v1.17.7 (test/golden/expr)', () => {
  it('has a golden result for every case, and a case for every golden result', () => {
    const goldenNames = new Set(goldens.map((g) => g.name));
    assert.deepEqual(
      cases.filter((c) => !goldenNames.has(c.name)).map((c) => c.name),
      [],
      'cases without results: run npm run golden:expr',
    );
    assert.deepEqual(
      goldens.filter((g) => !byName.has(g.name)).map((g) => g.name),
      [],
    );
  });
  if (process.env.EXPR_GOLDEN_REPORT) {
    for (const g of goldens) {
      const c = byName.get(g.name);
      const p = c ? compare(g, c) : [];
      if (p.length)
        console.log(
          `${g.name}@${g.variant} ${JSON.stringify(c?.expr)} ${JSON.stringify(c?.result)}\n   ${p.join('\n   ')}`,
        );
    }
  }
  for (const g of goldens) {
    const c = byName.get(g.name);
    if (!c) continue;
    it(`${g.name} [${g.variant}]: ${c.expr.replaceAll('\n', '\\n')}`, () => {
      assert.deepEqual(compare(g, c), []);
    });
  }
});
