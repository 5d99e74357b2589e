/**
 * Tree-walking interpreter of the condition language, bounded in steps and in
 * memory (elements allocated by ranges, literals, map, filter, split ...), so
 * a hostile condition fails with a specific error instead of hanging.
 */
import type { Node } from './ast.ts';
import { type CallContext, callFunction } from './builtins.ts';
import { Fault } from './errors.ts';
import { matches } from './regex.ts';
import {
  equal,
  format,
  int64,
  isFloat,
  isInt,
  isMap,
  isNumber,
  type MapValue,
  setKey,
  toInt,
  typeName,
  type Value,
} from './values.ts';

export interface Budget {
  /** Most nodes evaluated (each element of a map or filter counts its predicate's nodes again). */
  maxSteps: number;
  /** Most elements allocated, with expr's own default (1e6) and message ("memory budget exceeded"). */
  maxMemory: number;
}

export const defaultBudget: Budget = { maxSteps: 1_000_000, maxMemory: 1_000_000 };

/** Thrown by `?.` on nil, caught by the chain it belongs to. */
const nilChain = Symbol('nil chain');

const fail = (message: string): never => {
  throw new Error(message);
};

/** Go's message for a failed type assertion `v.(T)`. */
const notA = (v: Value, want: string): string =>
  `interface conversion: interface {} is ${v === null ? 'nil' : typeName(v)}, not ${want}`;

const bool = (v: Value): boolean => (typeof v === 'boolean' ? v : fail(notA(v, 'bool')));

export function run(node: Node, variables: Record<string, Value>, result: Value, budget: Budget): Value {
  return new Interpreter(variables, result, budget).eval(node);
}

class Interpreter implements CallContext {
  private steps = 0;
  private memory = 0;
  private at = 0;
  private readonly scopes: { item: Value; index: number }[] = [];
  private readonly lets: { name: string; value: Value }[] = [];
  private readonly variables: Record<string, Value>;
  readonly result: Value;
  private readonly budget: Budget;

  constructor(variables: Record<string, Value>, result: Value, budget: Budget) {
    this.variables = variables;
    this.result = result;
    this.budget = budget;
  }

  /** Charges n elements to the memory budget; `at` is the node that allocates them. */
  grow(n: number, at = this.at): void {
    this.memory += n;
    if (this.memory >= this.budget.maxMemory) throw new Fault('memory budget exceeded', at);
  }

  eval(n: Node): Value {
    if (++this.steps > this.budget.maxSteps)
      throw new Fault(`evaluation exceeded ${this.budget.maxSteps} steps`, n.at);
    try {
      return this.evalNode(n);
    } catch (e) {
      // Errors of the Go semantics (plain Errors) get the position of the innermost node.
      if (e instanceof Error) throw new Fault(e.message, n.at);
      throw e;
    }
  }

  private evalNode(n: Node): Value {
    switch (n.k) {
      case 'literal':
        return n.value;
      case 'name':
        return this.lookup(n.name);
      case 'pointer': {
        const scope = this.scopes.at(-1)!;
        return n.name === 'index' ? BigInt(scope.index) : scope.item;
      }
      case 'unary':
        return this.unary(n.op, this.eval(n.x));
      case 'binary':
        return this.binary(n);
      case 'member': {
        const obj = this.eval(n.obj);
        const prop = this.eval(n.prop);
        if (obj === null && n.optional) throw nilChain;
        return fetch(obj, prop);
      }
      case 'chain':
        try {
          return this.eval(n.x);
        } catch (e) {
          if (e === nilChain) return null;
          throw e;
        }
      case 'slice':
        return this.slice(n);
      case 'call': {
        const args = n.args.map((a) => this.eval(a));
        this.at = n.at;
        return callFunction(n.name, args, this);
      }
      case 'predicate':
        return this.predicate(n);
      case 'conditional':
        return bool(this.eval(n.cond)) ? this.eval(n.then) : this.eval(n.else);
      case 'array': {
        const items = n.items.map((x) => this.eval(x));
        this.grow(items.length, n.at);
        return items;
      }
      case 'map': {
        const out: MapValue = {};
        for (const [k, v] of n.pairs) {
          const key = this.eval(k);
          setKey(out, typeof key === 'string' ? key : fail(notA(key, 'string')), this.eval(v));
        }
        this.grow(n.pairs.length, n.at);
        return out;
      }
      case 'let': {
        this.lets.push({ name: n.name, value: this.eval(n.value) });
        try {
          return this.eval(n.body);
        } finally {
          this.lets.pop();
        }
      }
      case 'sequence': {
        let last: Value = null;
        for (const x of n.items) last = this.eval(x);
        return last;
      }
    }
  }

  private lookup(name: string): Value {
    for (let i = this.lets.length - 1; i >= 0; i--)
      if (this.lets[i]!.name === name) return this.lets[i]!.value;
    return Object.hasOwn(this.variables, name) ? this.variables[name]! : null;
  }

  private unary(op: string, x: Value): Value {
    switch (op) {
      case 'not':
      case '!':
        return !bool(x);
      case '-':
        if (isInt(x)) return int64(-x);
        return isFloat(x) ? -x : fail(`invalid operation: - ${typeName(x)}`);
      default:
        return isNumber(x) ? x : fail(`invalid operation: + ${typeName(x)}`);
    }
  }

  private binary(n: Extract<Node, { k: 'binary' }>): Value {
    const op = n.op;
    // Short-circuit operators look at the left operand only, as expr's jumps do.
    if (op === 'and' || op === '&&') return bool(this.eval(n.l)) ? this.eval(n.r) : false;
    if (op === 'or' || op === '||') return bool(this.eval(n.l)) ? true : this.eval(n.r);
    if (op === '??') {
      const l = this.eval(n.l);
      return l === null ? this.eval(n.r) : l;
    }
    const a = this.eval(n.l);
    const bounds = op === 'in' ? constantRange(n.r) : undefined;
    if (bounds && isInt(a)) return a >= bounds[0] && a <= bounds[1]; // as expr's optimizer: no array for `int in 1..N`
    const b = this.eval(n.r);
    this.at = n.at;
    switch (op) {
      case '==':
        return equal(a, b);
      case '!=':
        return !equal(a, b);
      case '<':
      case '>':
      case '<=':
      case '>=':
        return compare(op, a, b);
      case '+':
      case '-':
      case '*':
        return arithmetic(op, a, b);
      case '/':
        return isNumber(a) && isNumber(b) ? Number(a) / Number(b) : fail(mismatch(a, op, b));
      case '%':
        if (!isInt(a) || !isInt(b)) return fail(mismatch(a, op, b));
        return b === 0n ? fail('runtime error: integer divide by zero') : int64(a % b);
      case '**':
      case '^':
        return toFloat(a) ** toFloat(b);
      case 'in':
        return contains(b, a);
      case 'matches':
        if (a === null || b === null) return false;
        return matches(typeof a === 'string' ? a : fail(notA(a, '[]uint8')), string(b));
      case 'contains':
        return a !== null && b !== null && string(a).includes(string(b));
      case 'startsWith':
        return a !== null && b !== null && string(a).startsWith(string(b));
      case 'endsWith':
        return a !== null && b !== null && string(a).endsWith(string(b));
      case '..':
        return this.range(toInt(a), toInt(b));
    }
    return fail(`unknown operator ${op}`);
  }

  private range(from: bigint, to: bigint): Value[] {
    const size = to - from + 1n;
    if (size <= 0n) return [];
    this.grow(size >= BigInt(this.budget.maxMemory) ? this.budget.maxMemory : Number(size));
    const out: Value[] = [];
    for (let i = from; i <= to; i++) out.push(i);
    return out;
  }

  private slice(n: Extract<Node, { k: 'slice' }>): Value {
    const obj = this.eval(n.obj);
    const from = n.from ? this.eval(n.from) : 0n;
    const to = n.to ? this.eval(n.to) : null;
    if (!Array.isArray(obj) && typeof obj !== 'string') return fail(`cannot slice ${format(from)}`);
    const bytes = typeof obj === 'string' ? Buffer.from(obj) : undefined;
    const length = bytes ? bytes.length : (obj as Value[]).length;
    const clamp = (i: number) => Math.min(Math.max(i < 0 ? length + i : i, 0), length);
    const b = to === null ? length : clamp(Number(toInt(to)));
    const a = Math.min(clamp(Number(toInt(from))), b);
    return bytes ? bytes.subarray(a, b).toString() : (obj as Value[]).slice(a, b);
  }

  private predicate(n: Extract<Node, { k: 'predicate' }>): Value {
    const array = this.eval(n.array);
    if (!Array.isArray(array)) return fail(`cannot iterate over ${typeName(array)}`);
    const each = (item: Value, index: number): Value => {
      if (!n.fn) return item;
      this.scopes.push({ item, index });
      try {
        return this.eval(n.fn);
      } finally {
        this.scopes.pop();
      }
    };
    const test = (item: Value, index: number) => bool(each(item, index));
    switch (n.name) {
      case 'all':
        return array.every(test);
      case 'any':
        return array.some(test);
      case 'none':
        return !array.some(test);
      case 'one':
        return array.filter(test).length === 1;
      case 'count':
        return BigInt(array.filter(test).length);
      case 'filter': {
        const out = array.filter(test);
        this.grow(out.length, n.at);
        return out;
      }
      case 'map': {
        const out = array.map(each);
        this.grow(out.length, n.at);
        return out;
      }
      case 'sum':
        return array.reduce<Value>((acc, item, i) => arithmetic('+', each(item, i), acc), 0n);
      case 'find':
        return array.find(test) ?? null;
      // expr gives nil, not -1, when nothing matches
      case 'findIndex':
        return orNil(array.findIndex(test));
      case 'findLast':
        return array.findLast(test) ?? null;
      case 'findLastIndex':
        return orNil(array.findLastIndex(test));
    }
    return fail(`unknown predicate ${n.name}`);
  }
}

function constantRange(n: Node): [bigint, bigint] | undefined {
  if (n.k !== 'binary' || n.op !== '..' || n.l.k !== 'literal' || n.r.k !== 'literal') return undefined;
  const [from, to] = [n.l.value, n.r.value];
  return isInt(from) && isInt(to) ? [from, to] : undefined;
}

const orNil = (i: number): Value => (i < 0 ? null : BigInt(i));

const mismatch = (a: Value, op: string, b: Value) => `invalid operation: ${typeName(a)} ${op} ${typeName(b)}`;

const string = (v: Value): string => (typeof v === 'string' ? v : fail(notA(v, 'string')));

function toFloat(v: Value): number {
  return isNumber(v) ? Number(v) : fail(`invalid operation: float(${typeName(v)})`);
}

function arithmetic(op: '+' | '-' | '*', a: Value, b: Value): Value {
  if (isInt(a) && isInt(b)) return int64(op === '+' ? a + b : op === '-' ? a - b : a * b);
  if (isNumber(a) && isNumber(b)) {
    const x = Number(a);
    const y = Number(b);
    return op === '+' ? x + y : op === '-' ? x - y : x * y;
  }
  if (op === '+' && typeof a === 'string' && typeof b === 'string') return a + b;
  return fail(mismatch(a, op, b));
}

function compare(op: string, a: Value, b: Value): boolean {
  const ok = (isNumber(a) && isNumber(b)) || (typeof a === 'string' && typeof b === 'string');
  if (!ok) return fail(mismatch(a, op, b));
  const x = a as bigint | number | string;
  const y = b as bigint | number | string;
  switch (op) {
    case '<':
      return x < y;
    case '>':
      return x > y;
    case '<=':
      return x <= y;
    default:
      return x >= y;
  }
}

/** `needle in haystack`: an element of an array, a key of a map; nothing is in nil. */
function contains(haystack: Value, needle: Value): boolean {
  if (haystack === null) return false;
  if (Array.isArray(haystack)) return haystack.some((x) => equal(x, needle));
  if (isMap(haystack)) {
    if (typeof needle !== 'string')
      return fail(
        `reflect.Value.MapIndex: value of type ${typeName(needle)} is not assignable to type string`,
      );
    return Object.hasOwn(haystack, needle);
  }
  return fail(`operator "in" not defined on ${typeName(haystack)}`);
}

/** runtime.Fetch: a map's key (nil when missing), an array's or string's index (negative from the end). */
function fetch(obj: Value, prop: Value): Value {
  if (isMap(obj)) {
    if (typeof prop !== 'string')
      return fail(`reflect.Value.MapIndex: value of type ${typeName(prop)} is not assignable to type string`);
    return Object.hasOwn(obj, prop) ? obj[prop]! : null;
  }
  if (Array.isArray(obj) || typeof obj === 'string') {
    const bytes = typeof obj === 'string' ? Buffer.from(obj) : undefined;
    const length = bytes ? bytes.length : (obj as Value[]).length;
    let i = toInt(prop);
    if (i < 0n) i += BigInt(length);
    if (i < 0n || i >= BigInt(length)) return fail(`index out of range: ${i} (array length is ${length})`);
    return bytes ? BigInt(bytes[Number(i)]!) : (obj as Value[])[Number(i)]!;
  }
  return fail(`cannot fetch ${format(prop)} from ${typeName(obj)}`);
}
