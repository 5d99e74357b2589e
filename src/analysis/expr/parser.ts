/**
 * Parser of the condition language: precedence climbing over expr-lang's
 * operator table, producing the tree in ast.ts. It also checks what can be
 * checked without the value of `result`: unknown names, the arity of
 * functions, features Kanary does not support, and the size limits.
 */
import type { Node } from './ast.ts';
import { argoFunctions, functionArity, isPredicate, unsupportedFunctions } from './builtins.ts';
import { Fault } from './errors.ts';
import { describeToken, type Token, tokenize } from './lexer.ts';
import { compileRegex } from './regex.ts';

export interface Limits {
  /** Longest accepted source, in characters. */
  maxLength: number;
  /**
   * Deepest nesting, both of the parser's recursion (parentheses, unary
   * operators) and of the tree (`a.b.c…`, `1 + 1 + …`), which the checker and
   * the interpreter walk recursively.
   */
  maxDepth: number;
  /** Most tree nodes (expr's own limit is 10,000). */
  maxNodes: number;
}

export const defaultLimits: Limits = { maxLength: 4096, maxDepth: 128, maxNodes: 10_000 };

interface Operator {
  precedence: number;
  right?: boolean;
}

const unary: Record<string, number> = { not: 50, '!': 50, '-': 90, '+': 90 };

const binary: Record<string, Operator> = {
  '|': { precedence: 0 },
  or: { precedence: 10 },
  '||': { precedence: 10 },
  and: { precedence: 15 },
  '&&': { precedence: 15 },
  '==': { precedence: 20 },
  '!=': { precedence: 20 },
  '<': { precedence: 20 },
  '>': { precedence: 20 },
  '>=': { precedence: 20 },
  '<=': { precedence: 20 },
  in: { precedence: 20 },
  matches: { precedence: 20 },
  contains: { precedence: 20 },
  startsWith: { precedence: 20 },
  endsWith: { precedence: 20 },
  '..': { precedence: 25 },
  '+': { precedence: 30 },
  '-': { precedence: 30 },
  '*': { precedence: 60 },
  '/': { precedence: 60 },
  '%': { precedence: 60 },
  '**': { precedence: 100, right: true },
  '^': { precedence: 100, right: true },
  '??': { precedence: 500 },
};

/** expr predicates Kanary refuses; parsed as predicates so that the refusal is the error shown. */
const unsupportedPredicates = new Set(['groupBy', 'sortBy', 'reduce']);
const comparisons = new Set(['<', '>', '<=', '>=']);
const negatable = new Set(['in', 'matches', 'contains', 'startsWith', 'endsWith']);
const maxInt64 = (1n << 63n) - 1n;

export function parse(source: string, variables: readonly string[], limits: Limits = defaultLimits): Node {
  const length = Array.from(source).length;
  if (length > limits.maxLength)
    throw new Fault(
      `compilation failed: expression is longer than ${limits.maxLength} characters (${length})`,
      0,
    );
  const node = new Parser(tokenize(source), variables, limits).parseProgram();
  const deepest = deepestNode(node, limits.maxDepth);
  if (deepest) throw new Fault(tooDeep(limits.maxDepth), deepest.at);
  return node;
}

const tooDeep = (max: number) => `compilation failed: expression is nested more than ${max} levels deep`;

/** The first node deeper than `max` in the tree, found without recursion. */
function deepestNode(root: Node, max: number): Node | undefined {
  const stack: [Node, number][] = [[root, 1]];
  for (let top = stack.pop(); top; top = stack.pop()) {
    const [n, depth] = top;
    if (depth > max) return n;
    for (const child of children(n)) stack.push([child, depth + 1]);
  }
  return undefined;
}

function children(n: Node): Node[] {
  switch (n.k) {
    case 'unary':
    case 'chain':
      return [n.x];
    case 'binary':
      return [n.l, n.r];
    case 'member':
      return [n.obj, n.prop];
    case 'slice':
      return [n.obj, ...(n.from ? [n.from] : []), ...(n.to ? [n.to] : [])];
    case 'call':
      return n.args;
    case 'predicate':
      return [n.array, ...(n.fn ? [n.fn] : [])];
    case 'conditional':
      return [n.cond, n.then, n.else];
    case 'array':
      return n.items;
    case 'map':
      return n.pairs.flat();
    case 'let':
      return [n.value, n.body];
    case 'sequence':
      return n.items;
    default:
      return [];
  }
}

class Parser {
  private readonly tokens: Token[];
  private readonly variables: ReadonlySet<string>;
  private readonly limits: Limits;
  private i = 0;
  private depth = 0;
  private nodes = 0;
  /** Predicate nesting: `#` and `.name` are allowed only inside one. */
  private predicates = 0;
  private readonly lets: string[] = [];
  /**
   * The first error about names and calls (unknown name, arity, unsupported
   * function): reported only when the syntax is fine, since expr finds those
   * in its checker, after parsing.
   */
  private semantic: Fault | undefined;

  constructor(tokens: Token[], variables: readonly string[], limits: Limits) {
    this.tokens = tokens;
    this.variables = new Set(variables);
    this.limits = limits;
  }

  parseProgram(): Node {
    const node = this.parseSequence();
    if (this.current.kind !== 'EOF') this.fail(`unexpected token ${describeToken(this.current)}`);
    if (this.semantic) throw this.semantic;
    return node;
  }

  private later(reason: string, at: Token): void {
    this.semantic ??= new Fault(reason, at.from);
  }

  private get current(): Token {
    return this.tokens[this.i]!;
  }

  private peekToken(): Token {
    return this.tokens[Math.min(this.i + 1, this.tokens.length - 1)]!;
  }

  private advance(): Token {
    const t = this.current;
    if (t.kind === 'EOF') this.fail('unexpected end of expression');
    this.i++;
    return t;
  }

  private is(kind: Token['kind'], value?: string, t: Token = this.current): boolean {
    return t.kind === kind && (value === undefined || t.value === value);
  }

  private expect(kind: Token['kind'], value?: string): Token {
    if (!this.is(kind, value)) this.fail(`unexpected token ${describeToken(this.current)}`);
    return this.advance();
  }

  private fail(reason: string, at: Token = this.current): never {
    throw new Fault(reason, at.from);
  }

  /** Every node goes through here, so the node limit holds whatever the shape. */
  private node<N extends Node>(n: N): N {
    if (++this.nodes > this.limits.maxNodes)
      this.fail('compilation failed: expression exceeds maximum allowed nodes');
    return n;
  }

  private parseSequence(): Node {
    const items = [this.parseExpression(0)];
    while (this.is('Operator', ';')) {
      this.advance();
      if (this.is('EOF')) break;
      items.push(this.parseExpression(0));
    }
    return items.length === 1 ? items[0]! : this.node({ k: 'sequence', at: items[0]!.at, items });
  }

  private parseExpression(precedence: number): Node {
    if (++this.depth > this.limits.maxDepth) this.fail(tooDeep(this.limits.maxDepth));
    let node: Node;
    if (precedence === 0 && this.is('Operator', 'let')) node = this.parseLet();
    else if (precedence === 0 && this.is('Operator', 'if')) node = this.parseIf();
    else {
      node = this.parseBinary(this.parsePrimary(), precedence);
      if (precedence === 0) node = this.parseConditional(node);
    }
    this.depth--;
    return node;
  }

  private parseBinary(left: Node, precedence: number): Node {
    let previous = '';
    while (this.is('Operator')) {
      let opToken = this.current;
      let notToken: Token | undefined;
      if (opToken.value === 'not') {
        const next = this.peekToken();
        if (!this.is('Operator', undefined, next) || !negatable.has(next.value)) {
          this.advance();
          this.fail(`unexpected token ${describeToken(next)}`);
        }
        if (binary[next.value]!.precedence < precedence) break;
        notToken = this.advance();
        opToken = next;
      }
      const op = binary[opToken.value];
      if (!op || op.precedence < precedence) break;
      this.advance();
      if (opToken.value === '|') {
        const name = this.expect('Identifier');
        left = this.parseCall(name, [left]);
      } else {
        if (previous === '??' && opToken.value !== '??')
          this.fail(
            `Operator (${opToken.value}) and coalesce expressions (??) cannot be mixed. Wrap either by parentheses.`,
            opToken,
          );
        if (comparisons.has(opToken.value)) left = this.parseComparison(left, opToken, op.precedence);
        else {
          const right = this.parseExpression(op.right ? op.precedence : op.precedence + 1);
          if (opToken.value === 'matches') this.checkPattern(right, opToken);
          left = this.node({ k: 'binary', at: opToken.from, op: opToken.value, l: left, r: right });
        }
        if (notToken) left = this.node({ k: 'unary', at: notToken.from, op: 'not', x: left });
      }
      previous = opToken.value;
    }
    return left;
  }

  /** A constant pattern is compiled now, so a bad or refused one fails to compile (as in expr). */
  private checkPattern(pattern: Node, at: Token): void {
    if (pattern.k !== 'literal' || typeof pattern.value !== 'string') return;
    try {
      compileRegex(pattern.value);
    } catch (e) {
      this.later((e as Error).message, at);
    }
  }

  /** `a < b < c` means `a < b && b < c`, as in expr. */
  private parseComparison(left: Node, opToken: Token, precedence: number): Node {
    let root: Node | undefined;
    for (;;) {
      const right = this.parseExpression(precedence + 1);
      const cmp = this.node<Node>({ k: 'binary', at: opToken.from, op: opToken.value, l: left, r: right });
      root = root ? this.node({ k: 'binary', at: opToken.from, op: '&&', l: root, r: cmp }) : cmp;
      left = right;
      if (!this.is('Operator') || !comparisons.has(this.current.value)) return root;
      opToken = this.advance();
    }
  }

  private parseConditional(node: Node): Node {
    while (this.is('Operator', '?')) {
      this.advance();
      let then: Node;
      let otherwise: Node;
      if (this.is('Operator', ':')) {
        this.advance();
        then = node;
        otherwise = this.parseExpression(0);
      } else {
        then = this.parseExpression(0);
        this.expect('Operator', ':');
        otherwise = this.parseExpression(0);
      }
      node = this.node({ k: 'conditional', at: this.current.from, cond: node, then, else: otherwise });
    }
    return node;
  }

  private parseLet(): Node {
    this.expect('Operator', 'let');
    const name = this.expect('Identifier');
    if (this.variables.has(name.value) || argoFunctions.has(name.value))
      this.later(`cannot redeclare ${name.value}`, name);
    else if (functionArity(name.value) || isPredicate(name.value) || unsupportedFunctions.has(name.value))
      this.later(`cannot redeclare builtin ${name.value}`, name);
    else if (this.lets.includes(name.value)) this.later(`cannot redeclare variable ${name.value}`, name);
    this.expect('Operator', '=');
    const value = this.parseExpression(0);
    this.expect('Operator', ';');
    this.lets.push(name.value);
    const body = this.parseSequence();
    this.lets.pop();
    return this.node({ k: 'let', at: name.from, name: name.value, value, body });
  }

  private parseIf(): Node {
    const at = this.advance().from;
    const cond = this.parseExpression(0);
    this.expect('Bracket', '{');
    const then = this.parseSequence();
    this.expect('Bracket', '}');
    this.expect('Operator', 'else');
    let otherwise: Node;
    if (this.is('Operator', 'if')) otherwise = this.parseIf();
    else {
      this.expect('Bracket', '{');
      otherwise = this.parseSequence();
      this.expect('Bracket', '}');
    }
    return this.node({ k: 'conditional', at, cond, then, else: otherwise });
  }

  private parsePrimary(): Node {
    const t = this.current;
    if (t.kind === 'Operator' && t.value in unary) {
      this.advance();
      const x = this.parseExpression(unary[t.value]!);
      return this.parsePostfix(this.node({ k: 'unary', at: t.from, op: t.value, x }));
    }
    if (this.is('Bracket', '(')) {
      this.advance();
      const x = this.parseSequence();
      this.expect('Bracket', ')');
      return this.parsePostfix(x);
    }
    if (this.predicates > 0 && this.is('Operator', '#')) {
      this.advance();
      let name = '';
      if (this.is('Identifier')) name = this.advance().value;
      if (name !== '' && name !== 'index') this.later(`unknown pointer #${name}`, t);
      return this.parsePostfix(this.node({ k: 'pointer', at: t.from, name }));
    }
    if (this.predicates > 0 && this.is('Operator', '.'))
      return this.parsePostfix(this.node({ k: 'pointer', at: t.from, name: '' }));
    if (this.is('Operator', '::')) {
      // `::len(x)`: the builtin, even where a variable of that name exists (none can here)
      this.advance();
      const name = this.expect('Identifier');
      return this.parsePostfix(this.parseCall(name, []));
    }
    return this.parseSecondary();
  }

  private parseSecondary(): Node {
    const t = this.current;
    switch (t.kind) {
      case 'Identifier': {
        this.advance();
        if (t.value === 'true' || t.value === 'false')
          return this.node({ k: 'literal', at: t.from, value: t.value === 'true' });
        if (t.value === 'nil') return this.node({ k: 'literal', at: t.from, value: null });
        if (this.is('Bracket', '(')) return this.parsePostfix(this.parseCall(t, []));
        return this.parsePostfix(this.parseName(t));
      }
      case 'Number':
        this.advance();
        return this.node({ k: 'literal', at: t.from, value: this.numberValue(t.value) });
      case 'String':
        this.advance();
        return this.parsePostfix(this.node({ k: 'literal', at: t.from, value: t.value }));
    }
    if (this.is('Bracket', '[')) return this.parsePostfix(this.parseArray());
    if (this.is('Bracket', '{')) return this.parsePostfix(this.parseMap());
    this.fail(`unexpected token ${describeToken(t)}`);
  }

  private parseName(t: Token): Node {
    if (!this.lets.includes(t.value) && !this.variables.has(t.value)) {
      if (functionArity(t.value) || isPredicate(t.value))
        this.later(`${t.value} is a function: call it as ${t.value}(...)`, t);
      else this.later(`unknown name ${t.value}`, t);
    }
    return this.node({ k: 'name', at: t.from, name: t.value });
  }

  /** Integers are int64 (bigint here), anything with a dot or exponent is float64. */
  private numberValue(text: string): bigint | number {
    const v = text.replaceAll('_', '');
    const lower = v.toLowerCase();
    const kind = lower.startsWith('0x')
      ? 'hex'
      : /[.e]/.test(lower)
        ? 'float'
        : lower.startsWith('0b')
          ? 'binary'
          : lower.startsWith('0o')
            ? 'octal'
            : 'integer';
    if (kind === 'float') {
      const f = Number(v);
      if (Number.isNaN(f))
        this.fail(`invalid float literal: strconv.ParseFloat: parsing ${JSON.stringify(v)}: invalid syntax`);
      if (!Number.isFinite(f))
        this.fail(
          `invalid float literal: strconv.ParseFloat: parsing ${JSON.stringify(v)}: value out of range`,
        );
      return f;
    }
    let n: bigint;
    try {
      n = BigInt(v);
    } catch {
      this.fail(`invalid ${kind} literal: strconv.ParseInt: parsing ${JSON.stringify(v)}: invalid syntax`);
    }
    if (n > maxInt64)
      this.fail(
        `invalid ${kind} literal: strconv.ParseInt: parsing ${JSON.stringify(v)}: value out of range`,
      );
    return n;
  }

  private parseCall(name: Token, piped: Node[]): Node {
    const fn = name.value;
    if (unsupportedFunctions.has(fn))
      this.later(`${fn}() is not supported in Kanary conditions (see docs/analysis.md)`, name);
    if (isPredicate(fn) || unsupportedPredicates.has(fn)) return this.parsePredicateCall(name, piped);
    const arity = functionArity(fn);
    if (!arity && !unsupportedFunctions.has(fn)) this.later(`unknown name ${fn}`, name);
    const args = this.parseArguments(piped);
    const [min, max] = arity ?? [0, Number.POSITIVE_INFINITY];
    if (args.length < min || args.length > max)
      this.later(
        `invalid number of arguments (expected ${min === max ? min : `${min} to ${max}`}, got ${args.length})`,
        name,
      );
    return this.node({ k: 'call', at: name.from, name: fn, args });
  }

  private parseArguments(args: Node[]): Node[] {
    const offset = args.length;
    this.expect('Bracket', '(');
    while (!this.is('Bracket', ')')) {
      if (args.length > offset) {
        this.expect('Operator', ',');
        if (this.is('Bracket', ')')) break;
      }
      args.push(this.parseExpression(0));
    }
    this.expect('Bracket', ')');
    return args;
  }

  /** all(array, predicate), count(array[, predicate]), sum(array[, predicate]), ... */
  private parsePredicateCall(name: Token, piped: Node[]): Node {
    const optionalPredicate = name.value === 'count' || name.value === 'sum';
    const all: ('expr' | 'predicate')[] = ['expr', 'predicate'];
    const specs = all.slice(piped.length);
    const args = [...piped];
    let fnAt = name.from;
    this.expect('Bracket', '(');
    specs.forEach((spec, i) => {
      if (this.is('Bracket', ')')) {
        if (spec === 'predicate' && optionalPredicate) return;
        this.fail(`expected at least ${specs.length} arguments`);
      }
      if (i > 0) this.expect('Operator', ',');
      if (spec === 'predicate') fnAt = this.current.from;
      args.push(spec === 'expr' ? this.parseExpression(0) : this.parsePredicate());
    });
    // sortBy and reduce take an optional third argument
    if (
      unsupportedPredicates.has(name.value) &&
      this.is('Operator', ',') &&
      !this.is('Bracket', ')', this.peekToken())
    ) {
      this.advance();
      this.parseExpression(0);
    }
    if (this.is('Operator', ',')) this.advance();
    this.expect('Bracket', ')');
    return this.node({ k: 'predicate', at: name.from, name: name.value, array: args[0]!, fn: args[1], fnAt });
  }

  private parsePredicate(): Node {
    const braces = this.is('Bracket', '{');
    if (braces) this.advance();
    this.predicates++;
    const node = braces ? this.parseSequence() : this.parseExpression(0);
    if (!braces && this.is('Operator', ';')) this.fail('wrap predicate with brackets { and }');
    this.predicates--;
    if (braces) this.expect('Bracket', '}');
    return node;
  }

  private parseArray(): Node {
    const at = this.expect('Bracket', '[').from;
    const items: Node[] = [];
    while (!this.is('Bracket', ']')) {
      if (items.length > 0) {
        this.expect('Operator', ',');
        if (this.is('Bracket', ']')) break;
      }
      items.push(this.parseExpression(0));
    }
    this.expect('Bracket', ']');
    return this.node({ k: 'array', at, items });
  }

  private parseMap(): Node {
    const at = this.expect('Bracket', '{').from;
    const pairs: [Node, Node][] = [];
    while (!this.is('Bracket', '}')) {
      if (pairs.length > 0) {
        this.expect('Operator', ',');
        if (this.is('Bracket', '}')) break;
        if (this.is('Operator', ',')) this.fail(`unexpected token ${describeToken(this.current)}`);
      }
      let key: Node;
      const t = this.current;
      if (t.kind === 'Number' || t.kind === 'String' || t.kind === 'Identifier') {
        this.advance();
        key = this.node({ k: 'literal', at: t.from, value: t.value });
      } else if (this.is('Bracket', '(')) key = this.parseExpression(0);
      else
        this.fail(
          `a map key must be a quoted string, a number, a identifier, or an expression enclosed in parentheses (unexpected token ${describeToken(t)})`,
        );
      this.expect('Operator', ':');
      pairs.push([key, this.parseExpression(0)]);
    }
    this.expect('Bracket', '}');
    return this.node({ k: 'map', at, pairs });
  }

  private parsePostfix(start: Node): Node {
    let node = start;
    for (;;) {
      const optional = this.is('Operator', '?.');
      if (optional && this.is('Bracket', '[', this.peekToken())) {
        this.advance();
        node = this.parseIndex(node, true);
      } else if (this.is('Operator', '.') || optional) {
        this.advance();
        const prop = this.advance();
        if (
          prop.kind !== 'Identifier' &&
          !(prop.kind === 'Operator' && /^[\p{L}_$][\p{L}\p{Nd}_$]*$/u.test(prop.value))
        )
          this.fail('expected name');
        if (this.is('Bracket', '('))
          this.fail(`method calls are not supported in Kanary conditions: .${prop.value}()`, prop);
        const chained = node.k === 'chain';
        const obj = node.k === 'chain' ? node.x : node;
        const key = this.node<Node>({ k: 'literal', at: prop.from, value: prop.value });
        node = this.node({ k: 'member', at: prop.from, obj, prop: key, optional });
        if (chained || optional) node = this.node({ k: 'chain', at: prop.from, x: node });
      } else if (this.is('Bracket', '[')) node = this.parseIndex(node, false);
      else return node;
    }
  }

  /** After `[` (or `?.[`): an index `a[i]` or a slice `a[i:j]`, `a[:j]`, `a[i:]`, `a[:]`. */
  private parseIndex(obj: Node, optional: boolean): Node {
    const at = this.expect('Bracket', '[').from;
    let from: Node | undefined;
    if (!this.is('Operator', ':')) {
      from = this.parseExpression(0);
      if (!this.is('Operator', ':')) {
        this.expect('Bracket', ']');
        const member = this.node<Node>({ k: 'member', at, obj, prop: from, optional });
        return optional ? this.node({ k: 'chain', at, x: member }) : member;
      }
    }
    this.advance(); // ':'
    const to = this.is('Bracket', ']') ? undefined : this.parseExpression(0);
    this.expect('Bracket', ']');
    return this.node({ k: 'slice', at, obj, from, to });
  }
}
