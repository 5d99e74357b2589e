/**
 * Type check before evaluation, as expr-lang does when Argo Rollouts compiles
 * a condition against its environment: the Go type of `result` (float64 for a
 * Prometheus scalar, []float64 for a vector, map/slice/string/... of
 * interface {} for the web provider) and of literals is known, so e.g.
 * `result[0] == "x"` on a vector or `"a" + 1` fail with expr's message instead
 * of quietly giving false. Values of unknown type (anything inside a JSON
 * document) pass and are checked while evaluating.
 */
import type { Node } from './ast.ts';
import { Fault } from './errors.ts';

export type Type =
  | { k: 'any' }
  | { k: 'nil' }
  | { k: 'bool' }
  | { k: 'int' }
  | { k: 'float' }
  | { k: 'string' }
  | { k: 'array'; of: Type; name: string }
  | { k: 'map' };

const any: Type = { k: 'any' };
const nil: Type = { k: 'nil' };
const bool: Type = { k: 'bool' };
const int: Type = { k: 'int' };
const float: Type = { k: 'float' };
const string: Type = { k: 'string' };
const map: Type = { k: 'map' };
const arrayOf = (of: Type, name = `[]${typeString(of)}`): Type => ({ k: 'array', of, name });
const anyArray = arrayOf(any);

/** How expr's Nature.String() names a type. */
export function typeString(t: Type): string {
  switch (t.k) {
    case 'any':
      return 'interface {}';
    case 'nil':
      return 'unknown';
    case 'float':
      return 'float64';
    case 'array':
      return t.name;
    case 'map':
      return 'map[string]interface {}';
    default:
      return t.k;
  }
}

/** A reflect.Type printed with %s, as builtins' validators do (nil has no type). */
const reflectString = (t: Type) => (t.k === 'nil' ? '%!s(<nil>)' : typeString(t));

/** The Go type of a value handed over by a provider: a Float64Array is a []float64. */
export function hostType(v: unknown): Type {
  if (v === null || v === undefined) return nil;
  if (v instanceof Float64Array) return arrayOf(float);
  switch (typeof v) {
    case 'boolean':
      return bool;
    case 'bigint':
      return int;
    case 'number':
      return float;
    case 'string':
      return string;
  }
  return Array.isArray(v) ? anyArray : map;
}

const isNum = (t: Type) => t.k === 'int' || t.k === 'float';
const unknown = (t: Type) => t.k === 'any';
/** Nature.MaybeCompatible: one side unknown and the other unknown or of an accepted kind. */
function maybe(l: Type, r: Type, ok: (t: Type) => boolean): boolean {
  return (unknown(l) && unknown(r)) || (unknown(l) && ok(r)) || (unknown(r) && ok(l));
}
function assignable(l: Type, r: Type): boolean {
  if (l.k === 'nil') return r.k === 'any' || r.k === 'map' || r.k === 'array';
  if (r.k === 'any') return true;
  if (l.k !== r.k) return false;
  return l.k !== 'array' || typeString(l) === typeString(r);
}
function comparable(l: Type, r: Type): boolean {
  return (
    unknown(l) ||
    unknown(r) ||
    l.k === 'nil' ||
    r.k === 'nil' ||
    (isNum(l) && isNum(r)) ||
    (l.k === 'array' && r.k === 'array') ||
    assignable(l, r)
  );
}
const promote = (l: Type, r: Type): Type => (l.k === 'int' && r.k === 'int' ? int : float);
const elem = (t: Type): Type => (t.k === 'array' ? t.of : any);
const isStr = (t: Type) => t.k === 'string';

/** Argument and result types of the functions, enough to follow expr's checks. */
type Signature = (args: Type[], at: (i: number) => number, name: string) => Type;

const stringParams =
  (result: Type): Signature =>
  (args, at, name) => {
    args.forEach((a, i) => {
      if (!unknown(a) && !isStr(a) && !(name === 'split' && i === 2) && !(name === 'replace' && i === 3))
        fail(`cannot use ${typeString(a)} as argument (type string) to call ${name} `, at(i));
    });
    return result;
  };

const signatures: Record<string, Signature> = {
  len: ([a], at) => {
    if (a!.k === 'array' || a!.k === 'map' || a!.k === 'string' || unknown(a!)) return int;
    return fail(`invalid argument for len (type ${reflectString(a!)})`, at(-1));
  },
  abs: ([a], at) =>
    isNum(a!) || unknown(a!) ? a! : fail(`invalid argument for abs (type ${reflectString(a!)})`, at(-1)),
  ceil: round('ceil'),
  floor: round('floor'),
  round: round('round'),
  int: convert('int', int),
  float: convert('float', float),
  string: () => string,
  type: () => string,
  max: aggregate('max'),
  min: aggregate('min'),
  mean: aggregate('mean', float),
  median: aggregate('median', float),
  first: ends('first'),
  last: ends('last'),
  keys: mapFn('keys'),
  values: mapFn('values'),
  upper: stringParams(string),
  lower: stringParams(string),
  trim: stringParams(string),
  trimPrefix: stringParams(string),
  trimSuffix: stringParams(string),
  split: stringParams(arrayOf(string)),
  replace: stringParams(string),
  indexOf: stringParams(int),
  lastIndexOf: stringParams(int),
  hasPrefix: stringParams(bool),
  hasSuffix: stringParams(bool),
  join: () => string,
  asInt: () => int,
  asFloat: () => float,
  isNaN: floatParam,
  isInf: floatParam,
  isNil: () => bool,
  default: () => any,
};

function floatParam(args: Type[], at: (i: number) => number, name: string): Type {
  const a = args[0]!;
  if (!unknown(a) && !isNum(a))
    fail(`cannot use ${typeString(a)} as argument (type float64) to call ${name} `, at(0));
  return bool;
}

function round(name: string): Signature {
  return ([a], at) =>
    isNum(a!) || unknown(a!)
      ? float
      : fail(`invalid argument for ${name} (type ${reflectString(a!)})`, at(-1));
}

function convert(name: string, result: Type): Signature {
  return ([a], at) =>
    isNum(a!) || isStr(a!) || unknown(a!)
      ? result
      : fail(`invalid argument for ${name} (type ${reflectString(a!)})`, at(-1));
}

function aggregate(name: string, result?: Type): Signature {
  return (args, at) => {
    for (const a of args) {
      if (a.k === 'array' || unknown(a)) return result ?? any;
      if (!isNum(a)) fail(`invalid argument for ${name} (type ${reflectString(a)})`, at(-1));
    }
    return result ?? args[0]!;
  };
}

function ends(name: string): Signature {
  return ([a], at) => {
    if (unknown(a!)) return any;
    if (a!.k === 'array') return a!.of;
    return fail(`cannot get ${name} element from ${reflectString(a!)}`, at(-1));
  };
}

function mapFn(name: string): Signature {
  return ([a], at) =>
    unknown(a!) || a!.k === 'map' ? anyArray : fail(`cannot get ${name} from ${reflectString(a!)}`, at(-1));
}

const fail = (reason: string, at: number): never => {
  throw new Fault(reason, at);
};

const mismatch = (op: string, l: Type, r: Type, at: number): never =>
  fail(`invalid operation: ${op} (mismatched types ${typeString(l)} and ${typeString(r)})`, at);

export function check(node: Node, variables: Record<string, Type>): Type {
  return new Checker(variables).visit(node);
}

class Checker {
  private readonly variables: Record<string, Type>;
  private readonly lets: { name: string; type: Type }[] = [];
  private readonly scopes: Type[] = [];

  constructor(variables: Record<string, Type>) {
    this.variables = variables;
  }

  visit(n: Node): Type {
    switch (n.k) {
      case 'literal':
        return hostType(n.value);
      case 'name': {
        for (let i = this.lets.length - 1; i >= 0; i--)
          if (this.lets[i]!.name === n.name) return this.lets[i]!.type;
        return this.variables[n.name] ?? any;
      }
      case 'pointer': {
        if (n.name === 'index') return int;
        const scope = this.scopes.at(-1) ?? any;
        return unknown(scope) ? any : elem(scope);
      }
      case 'unary':
        return this.unary(n.op, this.visit(n.x), n.at);
      case 'binary':
        return this.binary(n);
      case 'member':
        return this.member(n);
      case 'chain':
        return this.visit(n.x);
      case 'slice': {
        const t = this.visit(n.obj);
        if (unknown(t)) return any;
        if (t.k !== 'string' && t.k !== 'array') return fail(`cannot slice ${typeString(t)}`, n.at);
        for (const i of [n.from, n.to]) {
          if (!i) continue;
          const it = this.visit(i);
          if (it.k !== 'int' && !unknown(it)) fail(`non-integer slice index ${typeString(it)}`, i.at);
        }
        return t;
      }
      case 'call': {
        const args = n.args.map((a) => this.visit(a));
        const at = (i: number) => (i < 0 ? n.at : (n.args[i]?.at ?? n.at));
        return signatures[n.name]?.(args, at, n.name) ?? any;
      }
      case 'predicate':
        return this.predicate(n);
      case 'conditional': {
        const c = this.visit(n.cond);
        if (c.k !== 'bool' && !unknown(c))
          fail(`non-bool expression (type ${typeString(c)}) used as condition`, n.cond.at);
        const a = this.visit(n.then);
        const b = this.visit(n.else);
        if (a.k === 'nil') return b;
        if (b.k === 'nil') return a;
        return assignable(a, b) ? a : any;
      }
      case 'array': {
        const types = n.items.map((x) => this.visit(x));
        const last = types.at(-1);
        const same = last !== undefined && types.every((t) => t.k === last.k);
        return arrayOf(same ? last : any, '[]interface {}');
      }
      case 'map':
        for (const [k, v] of n.pairs) {
          this.visit(k);
          this.visit(v);
        }
        return map;
      case 'let': {
        this.lets.push({ name: n.name, type: this.visit(n.value) });
        const t = this.visit(n.body);
        this.lets.pop();
        return t;
      }
      case 'sequence': {
        let last: Type = nil;
        for (const x of n.items) last = this.visit(x);
        return last;
      }
    }
  }

  private unary(op: string, t: Type, at: number): Type {
    if (op === 'not' || op === '!') {
      if (t.k === 'bool' || unknown(t)) return bool;
    } else if (isNum(t)) return t;
    else if (unknown(t)) return any;
    return fail(`invalid operation: ${op} (mismatched type ${typeString(t)})`, at);
  }

  private binary(n: Extract<Node, { k: 'binary' }>): Type {
    const l = this.visit(n.l);
    const r = this.visit(n.r);
    const { op, at } = n;
    switch (op) {
      case '==':
      case '!=':
        if (comparable(l, r)) return bool;
        break;
      case 'and':
      case '&&':
      case 'or':
      case '||':
        if ((l.k === 'bool' && r.k === 'bool') || maybe(l, r, (t) => t.k === 'bool')) return bool;
        break;
      case '<':
      case '>':
      case '<=':
      case '>=':
        if ((isNum(l) && isNum(r)) || (isStr(l) && isStr(r))) return bool;
        if (maybe(l, r, (t) => isNum(t) || isStr(t))) return bool;
        break;
      case '-':
      case '*':
        if (isNum(l) && isNum(r)) return promote(l, r);
        if (maybe(l, r, isNum)) return any;
        break;
      case '/':
      case '**':
      case '^':
        if ((isNum(l) && isNum(r)) || maybe(l, r, isNum)) return float;
        break;
      case '%':
        if (n.l.k === 'literal' && n.r.k === 'literal' && n.r.value === 0n && l.k === 'int')
          return fail('integer divide by zero', at); // expr folds constants while compiling
        if ((l.k === 'int' && r.k === 'int') || maybe(l, r, (t) => t.k === 'int')) return int;
        break;
      case '+':
        if (isNum(l) && isNum(r)) return promote(l, r);
        if (isStr(l) && isStr(r)) return string;
        if (maybe(l, r, (t) => isNum(t) || isStr(t))) return any;
        break;
      case 'in':
        if (r.k === 'map') {
          if (!unknown(l) && !assignable(l, string))
            fail(`cannot use ${typeString(l)} as type string in map key`, at);
          return bool;
        }
        if (r.k === 'array') {
          if (!comparable(l, r.of))
            fail(`cannot use ${typeString(l)} as type ${typeString(r.of)} in array`, at);
          return bool;
        }
        if (unknown(l) && isStr(r)) return bool;
        if (unknown(r)) return bool;
        break;
      case 'matches':
        if ((isStr(l) && isStr(r)) || maybe(l, r, isStr)) return bool;
        break;
      case 'contains':
      case 'startsWith':
      case 'endsWith':
        if ((isStr(l) && isStr(r)) || maybe(l, r, isStr)) return bool;
        break;
      case '..':
        if ((l.k === 'int' && r.k === 'int') || maybe(l, r, (t) => t.k === 'int')) return arrayOf(int);
        break;
      case '??':
        if (l.k === 'nil') return r;
        if (r.k === 'nil') return l;
        return assignable(r, l) ? l : any;
    }
    return mismatch(op, l, r, at);
  }

  private member(n: Extract<Node, { k: 'member' }>): Type {
    const base = this.visit(n.obj);
    const prop = this.visit(n.prop);
    if (unknown(base)) return any;
    const name = n.prop.k === 'literal' && typeof n.prop.value === 'string' ? n.prop.value : undefined;
    if (base.k === 'nil' && name !== undefined) return fail(`type nil has no field ${name}`, n.at);
    if (base.k === 'map') {
      if (!assignable(prop, string) && !unknown(prop))
        fail(`cannot use ${typeString(prop)} to get an element from ${typeString(base)}`, n.prop.at);
      return any;
    }
    if (base.k === 'array') {
      if (prop.k !== 'int' && !unknown(prop))
        fail(`array elements can only be selected using an integer (got ${typeString(prop)})`, n.prop.at);
      return base.of;
    }
    if (name !== undefined) return fail(`type ${typeString(base)} has no field ${name}`, n.at);
    return fail(`type ${typeString(base)}[${typeString(prop)}] is undefined`, n.at);
  }

  private predicate(n: Extract<Node, { k: 'predicate' }>): Type {
    const collection = this.visit(n.array);
    if (collection.k !== 'array' && !unknown(collection))
      fail(`builtin ${n.name} takes only array (got ${typeString(collection)})`, n.array.at);
    let out: Type = any;
    if (n.fn) {
      this.scopes.push(collection);
      out = this.visit(n.fn);
      this.scopes.pop();
      if (out.k === 'nil') fail('predicate should has one input and one output param', n.fnAt);
      const needsBool = n.name !== 'map' && n.name !== 'sum';
      if (needsBool && out.k !== 'bool' && !unknown(out))
        fail(`predicate should return boolean (got ${typeString(out)})`, n.fnAt);
    }
    switch (n.name) {
      case 'all':
      case 'any':
      case 'none':
      case 'one':
        return bool;
      case 'count':
      case 'findIndex':
      case 'findLastIndex':
        return int;
      case 'filter':
        return unknown(collection) ? anyArray : collection;
      case 'map':
        return arrayOf(out, '[]interface {}');
      case 'find':
      case 'findLast':
        return unknown(collection) ? any : elem(collection);
      default:
        return any;
    }
  }
}
