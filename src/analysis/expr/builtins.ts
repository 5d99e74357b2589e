/**
 * Functions a condition can call: the expr-lang builtins Kanary supports and
 * the helpers Argo Rollouts adds to a metric condition's environment (asInt,
 * asFloat, isNaN, isInf, isNil, default). Each follows the Go behaviour,
 * including its error messages where they are the user's only clue.
 */
import { format, isFloat, isInt, isMap, isNumber, truncToInt, typeName, type Value } from './values.ts';

export interface CallContext {
  /** The metric result, which Argo's isNil and default look at whatever their argument. */
  result: Value;
  /** Charges `n` units to the evaluation's memory budget. */
  grow(n: number): void;
}

type Fn = (args: Value[], ctx: CallContext) => Value;

interface Builtin {
  min: number;
  max: number;
  fn: Fn;
}

/** Predicate builtins: the parser reads their second argument as a per-element closure. */
const predicates = new Set([
  'all',
  'none',
  'any',
  'one',
  'filter',
  'map',
  'count',
  'sum',
  'find',
  'findIndex',
  'findLast',
  'findLastIndex',
]);

/** expr-lang builtins refused at compile time with a clear message instead of half-working. */
export const unsupportedFunctions = new Set([
  'groupBy',
  'sortBy',
  'reduce',
  'now',
  'date',
  'duration',
  'timezone',
  'toJSON',
  'fromJSON',
  'toBase64',
  'fromBase64',
  'get',
  'take',
  'toPairs',
  'fromPairs',
  'reverse',
  'uniq',
  'concat',
  'flatten',
  'sort',
  'repeat',
  'splitAfter',
  'bitand',
  'bitor',
  'bitxor',
  'bitnand',
  'bitnot',
  'bitshl',
  'bitshr',
  'bitushr',
]);

/** The functions Argo Rollouts puts in a condition's environment (they are env entries, not builtins, in expr). */
export const argoFunctions = new Set(['asInt', 'asFloat', 'isNaN', 'isInf', 'isNil', 'default']);

export const isPredicate = (name: string): boolean => predicates.has(name);

export function functionArity(name: string): [number, number] | undefined {
  const b = Object.hasOwn(functions, name) ? functions[name] : undefined;
  return b && [b.min, b.max];
}

export function callFunction(name: string, args: Value[], ctx: CallContext): Value {
  return functions[name]!.fn(args, ctx);
}

const fail = (message: string): never => {
  throw new Error(message);
};

/** Go's panic when a value is asserted to be a string. */
function str(v: Value): string {
  return typeof v === 'string' ? v : fail(`interface conversion: interface {} is ${typeName(v)}, not string`);
}

/** Go's strconv.ParseFloat syntax for decimal input (plus inf/nan); hex floats are not accepted here. */
function parseGoFloat(s: string): number | undefined {
  if (/^[+-]?(inf|infinity)$/i.test(s)) return s.startsWith('-') ? -Infinity : Infinity;
  if (/^nan$/i.test(s)) return Number.NaN;
  if (!/^[+-]?(\d+(_\d+)*\.?(\d+(_\d+)*)?|\.\d+(_\d+)*)([eE][+-]?\d+)?$/.test(s) || s.includes('_'))
    return undefined;
  return Number(s);
}

const minInt64 = -(1n << 63n);
const maxInt64 = (1n << 63n) - 1n;

function parseGoInt(s: string): bigint | undefined {
  if (!/^[+-]?\d+$/.test(s)) return undefined;
  const n = BigInt(s);
  return n < minInt64 || n > maxInt64 ? undefined : n;
}

/** UTF-8 byte offset of a UTF-16 index, as Go's strings.Index counts. */
const byteOffset = (s: string, i: number): bigint => (i < 0 ? -1n : BigInt(Buffer.byteLength(s.slice(0, i))));

/** Go's math.Round: half away from zero. */
function goRound(f: number): number {
  if (!Number.isFinite(f)) return f;
  const t = Math.trunc(f);
  return Math.abs(f - t) >= 0.5 ? t + Math.sign(f) : t;
}

function roundFn(name: string, op: (f: number) => number): Builtin {
  return {
    min: 1,
    max: 1,
    fn: ([x]) =>
      isFloat(x) ? op(x) : isInt(x) ? Number(x) : fail(`invalid argument for ${name} (type ${typeName(x!)})`),
  };
}

/** Numbers of the arguments, arrays flattened, as expr's max/min/mean/median collect them. */
function collectNumbers(
  name: string,
  args: Value[],
  out: (bigint | number)[] = [],
  depth = 0,
): (bigint | number)[] {
  if (depth > 100) fail('recursion depth exceeded');
  for (const a of args) {
    if (Array.isArray(a)) collectNumbers(name, a, out, depth + 1);
    else if (isNumber(a)) out.push(a);
    else fail(`invalid argument for ${name} (type ${typeName(a)})`);
  }
  return out;
}

function extreme(name: string, better: (a: bigint | number, b: bigint | number) => boolean): Builtin {
  return {
    min: 1,
    max: Number.POSITIVE_INFINITY,
    fn: (args) => {
      if (args.length === 1 && !Array.isArray(args[0]) && !isNumber(args[0])) return args[0]!;
      let best: bigint | number | null = null;
      for (const n of collectNumbers(name, args)) if (best === null || better(n, best)) best = n;
      return best;
    },
  };
}

const functions: Record<string, Builtin> = {
  // --- expr-lang builtins
  len: {
    min: 1,
    max: 1,
    fn: ([x]) => {
      if (typeof x === 'string') return BigInt(Array.from(x).length);
      if (Array.isArray(x)) return BigInt(x.length);
      if (isMap(x)) return BigInt(Object.keys(x).length);
      return fail(`invalid argument for len (type ${typeName(x!)})`);
    },
  },
  type: {
    min: 1,
    max: 1,
    fn: ([x]) => {
      if (x === null) return 'nil';
      if (isInt(x)) return 'int';
      if (isFloat(x)) return 'float';
      if (Array.isArray(x)) return 'array';
      if (isMap(x)) return 'map';
      return typeof x === 'boolean' ? 'bool' : 'string';
    },
  },
  abs: {
    min: 1,
    max: 1,
    fn: ([x]) =>
      isInt(x)
        ? x < 0n
          ? -x
          : x
        : isFloat(x)
          ? Math.abs(x)
          : fail(`invalid argument for abs (type ${typeName(x!)})`),
  },
  ceil: roundFn('ceil', Math.ceil),
  floor: roundFn('floor', Math.floor),
  round: roundFn('round', goRound),
  int: {
    min: 1,
    max: 1,
    fn: ([x]) => {
      if (isInt(x)) return x;
      if (isFloat(x)) return truncToInt(x);
      if (typeof x === 'string') return parseGoInt(x) ?? fail(`invalid operation: int(${x})`);
      return fail(`invalid operation: int(${typeName(x!)})`);
    },
  },
  float: {
    min: 1,
    max: 1,
    fn: ([x]) => {
      if (isFloat(x)) return x;
      if (isInt(x)) return Number(x);
      if (typeof x === 'string') return parseGoFloat(x) ?? fail(`invalid operation: float(${x})`);
      return fail(`invalid operation: float(${typeName(x!)})`);
    },
  },
  string: { min: 1, max: 1, fn: ([x]) => format(x!) },
  max: extreme('max', (a, b) => a > b),
  min: extreme('min', (a, b) => a < b),
  mean: {
    min: 1,
    max: Number.POSITIVE_INFINITY,
    fn: (args) => {
      const ns = collectNumbers('mean', args);
      return ns.length === 0 ? 0 : ns.reduce<number>((s, n) => s + Number(n), 0) / ns.length;
    },
  },
  median: {
    min: 1,
    max: Number.POSITIVE_INFINITY,
    fn: (args) => {
      const ns = collectNumbers('median', args)
        .map(Number)
        .sort((a, b) => a - b);
      const n = ns.length;
      if (n === 0) return 0;
      return n % 2 === 1 ? ns[(n - 1) / 2]! : (ns[n / 2 - 1]! + ns[n / 2]!) / 2;
    },
  },
  first: { min: 1, max: 1, fn: ([x]) => (Array.isArray(x) ? (x[0] ?? null) : null) },
  last: { min: 1, max: 1, fn: ([x]) => (Array.isArray(x) ? (x.at(-1) ?? null) : null) },
  keys: {
    min: 1,
    max: 1,
    fn: ([x], ctx) => {
      if (!isMap(x)) return fail(`cannot get keys from ${kindName(x!)}`);
      const keys = Object.keys(x);
      ctx.grow(keys.length);
      return keys;
    },
  },
  values: {
    min: 1,
    max: 1,
    fn: ([x], ctx) => {
      if (!isMap(x)) return fail(`cannot get values from ${kindName(x!)}`);
      const values = Object.values(x);
      ctx.grow(values.length);
      return values;
    },
  },
  upper: { min: 1, max: 1, fn: ([s]) => str(s!).toUpperCase() },
  lower: { min: 1, max: 1, fn: ([s]) => str(s!).toLowerCase() },
  trim: {
    min: 1,
    max: 2,
    fn: ([s, cut]) => {
      if (cut === undefined) return str(s!).trim();
      const chars = new Set(Array.from(str(cut)));
      const cs = Array.from(str(s!));
      let a = 0;
      let b = cs.length;
      while (a < b && chars.has(cs[a]!)) a++;
      while (b > a && chars.has(cs[b - 1]!)) b--;
      return cs.slice(a, b).join('');
    },
  },
  trimPrefix: {
    min: 1,
    max: 2,
    fn: ([s, p]) => {
      const prefix = p === undefined ? ' ' : str(p);
      return str(s!).startsWith(prefix) ? str(s!).slice(prefix.length) : str(s!);
    },
  },
  trimSuffix: {
    min: 1,
    max: 2,
    fn: ([s, p]) => {
      const suffix = p === undefined ? ' ' : str(p);
      const v = str(s!);
      return suffix !== '' && v.endsWith(suffix) ? v.slice(0, v.length - suffix.length) : v;
    },
  },
  split: {
    min: 2,
    max: 3,
    fn: ([s, sep, n], ctx) => {
      const v = str(s!);
      const d = str(sep!);
      let parts = d === '' ? Array.from(v) : v.split(d);
      if (n !== undefined) {
        const limit = Number(isNumber(n) ? n : fail(`invalid operation: int(${typeName(n)})`));
        if (limit === 0) parts = [];
        else if (limit > 0 && parts.length > limit)
          parts = [...parts.slice(0, limit - 1), parts.slice(limit - 1).join(d)];
      }
      ctx.grow(parts.length);
      return parts;
    },
  },
  join: {
    min: 1,
    max: 2,
    fn: ([a, glue]) => {
      if (!Array.isArray(a)) return fail(`invalid argument for join (type ${typeName(a!)})`);
      return a.map(str).join(glue === undefined ? '' : str(glue));
    },
  },
  replace: {
    min: 3,
    max: 4,
    fn: ([s, from, to, n]) => {
      const v = str(s!);
      const old = str(from!);
      const neu = str(to!);
      if (n === undefined || (isNumber(n) && n < 0))
        return old === '' ? Array.from(v).join(neu) : v.replaceAll(old, neu);
      let count = Number(isNumber(n) ? n : fail(`invalid operation: int(${typeName(n)})`));
      let out = v;
      let pos = 0;
      while (count-- > 0 && old !== '') {
        const i = out.indexOf(old, pos);
        if (i < 0) break;
        out = out.slice(0, i) + neu + out.slice(i + old.length);
        pos = i + neu.length;
      }
      return out;
    },
  },
  indexOf: { min: 2, max: 2, fn: ([s, sub]) => byteOffset(str(s!), str(s!).indexOf(str(sub!))) },
  lastIndexOf: { min: 2, max: 2, fn: ([s, sub]) => byteOffset(str(s!), str(s!).lastIndexOf(str(sub!))) },
  hasPrefix: { min: 2, max: 2, fn: ([s, p]) => str(s!).startsWith(str(p!)) },
  hasSuffix: { min: 2, max: 2, fn: ([s, p]) => str(s!).endsWith(str(p!)) },

  // --- Argo Rollouts' helpers (utils/evaluate)
  asInt: {
    min: 1,
    max: 1,
    fn: ([x]) => {
      if (isInt(x)) return x;
      if (isFloat(x)) return truncToInt(x);
      if (typeof x === 'string')
        return parseGoInt(x) ?? fail(`strconv.ParseInt: parsing ${JSON.stringify(x)}: ${rangeOrSyntax(x)}`);
      return fail(`asInt() not supported on ${typeName(x!)} ${format(x!)}`);
    },
  },
  asFloat: {
    min: 1,
    max: 1,
    fn: ([x]) => {
      if (isFloat(x)) return x;
      if (isInt(x)) return Number(x);
      if (typeof x === 'string')
        return parseGoFloat(x) ?? fail(`strconv.ParseFloat: parsing ${JSON.stringify(x)}: invalid syntax`);
      return fail(`asFloat() not supported on ${typeName(x!)} ${format(x!)}`);
    },
  },
  isNaN: { min: 1, max: 1, fn: ([x]) => Number.isNaN(float64Arg('isNaN', x!)) },
  isInf: {
    min: 1,
    max: 1,
    fn: ([x]) => {
      const f = float64Arg('isInf', x!);
      return f === Infinity || f === -Infinity;
    },
  },
  // Argo's isNil and default ignore their first argument and look at the metric result itself.
  isNil: { min: 1, max: 1, fn: (_args, ctx) => ctx.result === null },
  default: { min: 2, max: 2, fn: ([, fallback], ctx) => (ctx.result === null ? fallback! : ctx.result) },
};

const rangeOrSyntax = (s: string) => (/^[+-]?\d+$/.test(s) ? 'value out of range' : 'invalid syntax');

/** A function typed func(float64) accepts a float64 only, as Go's reflection calls it. */
function float64Arg(_name: string, x: Value): number {
  if (isInt(x)) return Number(x); // expr converts an int argument to the float64 parameter
  return isFloat(x)
    ? x
    : fail(`interface conversion: interface {} is ${x === null ? 'nil' : typeName(x)}, not float64`);
}

/** reflect.Kind names, as expr's keys() and values() report them. */
function kindName(x: Value): string {
  if (x === null) return 'invalid';
  if (Array.isArray(x)) return 'slice';
  return typeName(x);
}
