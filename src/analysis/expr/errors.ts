/**
 * Errors of the condition language, with the position they refer to. The
 * message format follows expr-lang's `file.Error`: the bare reason, then
 * `(line:column)` and a two-line excerpt with a caret under the offending
 * character, e.g.
 *
 *   unexpected token Operator(")") (1:8)
 *    | result)
 *    | ......^
 */

/** A position in the source, in code points from the start (as expr counts runes). */
export interface Span {
  from: number;
  to: number;
}

export interface Located {
  line: number;
  /** 1-based column, in code points. */
  column: number;
  /** The source line and a caret line, each prefixed by "\n | " (empty for an empty line). */
  snippet: string;
}

export function locate(source: string, offset: number): Located {
  const chars = Array.from(source);
  let line = 1;
  let column = 0;
  let lineStart = 0;
  for (let i = 0; i < chars.length && i < offset; i++) {
    if (chars[i] === '\n') {
      line++;
      column = 0;
      lineStart = i + 1;
    } else column++;
  }
  let lineEnd = chars.indexOf('\n', lineStart);
  if (lineEnd < 0) lineEnd = chars.length;
  if (lineEnd === lineStart) return { line, column: column + 1, snippet: '' };
  const text = chars.slice(lineStart, lineEnd).join('').replaceAll('\t', ' ');
  return { line, column: column + 1, snippet: `\n | ${text}\n | ${'.'.repeat(column)}^` };
}

/** Common base: `reason` is the bare message, `message` adds the position and excerpt. */
export abstract class ExprError extends Error {
  readonly reason: string;
  readonly line: number;
  readonly column: number;
  readonly snippet: string;
  /** `at` < 0: the error is about the whole condition (no position, as Argo's "expected bool"). */
  constructor(reason: string, source: string, at: number) {
    const where = at < 0 ? { line: 0, column: 0, snippet: '' } : locate(source, at);
    super(where.snippet ? `${reason} (${where.line}:${where.column})${where.snippet}` : reason);
    this.reason = reason;
    this.line = where.line;
    this.column = where.column;
    this.snippet = where.snippet;
  }
}

/** The condition does not compile: bad syntax, an unknown name, an unsupported feature, a limit. */
export class ConditionSyntaxError extends ExprError {
  override readonly name = 'ConditionSyntaxError';
}

/** The condition compiled but failed while evaluating: a type error, an index out of range, a budget. */
export class ConditionEvalError extends ExprError {
  override readonly name = 'ConditionEvalError';
}

/**
 * Thrown inside the lexer, parser and interpreter with just a reason and a
 * position; the public entry points turn it into one of the errors above, so
 * no internal error type leaks out.
 */
export class Fault {
  readonly reason: string;
  readonly at: number;
  constructor(reason: string, at: number) {
    this.reason = reason;
    this.at = at;
  }
}
