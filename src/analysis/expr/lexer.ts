/**
 * Lexer of the condition language (expr-lang syntax). Works on code points so
 * that positions count characters as expr counts runes.
 */
import { Fault } from './errors.ts';

export type TokenKind = 'Identifier' | 'Number' | 'String' | 'Operator' | 'Bracket' | 'EOF';

export interface Token {
  kind: TokenKind;
  value: string;
  /** Code point offsets into the source. */
  from: number;
  to: number;
}

/** Words that are operators, not identifiers. */
const wordOperators = new Set([
  'not',
  'in',
  'or',
  'and',
  'matches',
  'contains',
  'startsWith',
  'endsWith',
  'let',
  'if',
  'else',
]);

const isSpace = (c: string) => /^\s$/u.test(c);
const isDigit = (c: string) => c >= '0' && c <= '9';
const isLetter = (c: string) => c === '_' || c === '$' || /^\p{L}$/u.test(c);
const isAlphaNumeric = (c: string) => isLetter(c) || /^\p{Nd}$/u.test(c);

/** How expr names a token in "unexpected token ..." messages: Kind("value"). */
export function describeToken(t: Token): string {
  return t.value === '' ? t.kind : `${t.kind}(${JSON.stringify(t.value)})`;
}

export function tokenize(source: string): Token[] {
  return new Lexer(Array.from(source)).run();
}

class Lexer {
  private readonly src: string[];
  private start = 0;
  private pos = 0;
  private readonly tokens: Token[] = [];

  constructor(src: string[]) {
    this.src = src;
  }

  run(): Token[] {
    while (this.pos < this.src.length) {
      this.start = this.pos;
      this.scanToken(this.next());
    }
    const end = this.src.length;
    this.tokens.push({ kind: 'EOF', value: '', from: Math.max(0, end - 1), to: end });
    return this.tokens;
  }

  private peek(ahead = 0): string {
    return this.src[this.pos + ahead] ?? '';
  }

  private next(): string {
    return this.src[this.pos++] ?? '';
  }

  private accept(chars: string): boolean {
    const c = this.peek();
    if (c !== '' && chars.includes(c)) {
      this.pos++;
      return true;
    }
    return false;
  }

  private word(): string {
    return this.src.slice(this.start, this.pos).join('');
  }

  private emit(kind: TokenKind, value = this.word()): void {
    this.tokens.push({ kind, value, from: this.start, to: this.pos });
  }

  /** An error at the last character read (past the end when the source ran out). */
  private fail(reason: string): never {
    throw new Fault(reason, Math.max(0, this.pos - 1));
  }

  private scanToken(c: string): void {
    if (isSpace(c)) return;
    if (c === '"' || c === "'") {
      this.emit('String', this.scanQuoted(c));
      return;
    }
    if (c === '`') {
      this.emit('String', this.scanRaw());
      return;
    }
    if (isDigit(c) || (c === '.' && isDigit(this.peek()))) {
      this.scanNumber(c);
      return;
    }
    switch (c) {
      case '?':
        this.accept('.?');
        {
          this.emit('Operator');
          return;
        }
      case '/':
        if (this.accept('/')) {
          this.skipLineComment();
          return;
        }
        if (this.accept('*')) {
          this.skipBlockComment();
          return;
        }
        {
          this.emit('Operator');
          return;
        }
      case '#': {
        this.scanPointer();
        return;
      }
      case '|':
        this.accept('|');
        {
          this.emit('Operator');
          return;
        }
      case ':':
        this.accept(':');
        {
          this.emit('Operator');
          return;
        }
      case '.':
        this.accept('.');
        {
          this.emit('Operator');
          return;
        }
    }
    if ('([{)]}'.includes(c)) {
      this.emit('Bracket');
      return;
    }
    if (',;%+-^'.includes(c)) {
      this.emit('Operator');
      return;
    }
    if ('&!=*<>'.includes(c)) {
      this.accept('&=*');
      this.emit('Operator');
      return;
    }
    if (isAlphaNumeric(c)) {
      this.scanWord();
      return;
    }
    this.fail(`unrecognized character: ${describeRune(c)}`);
  }

  private scanWord(): void {
    while (this.pos < this.src.length && isAlphaNumeric(this.peek())) this.pos++;
    const w = this.word();
    this.emit(wordOperators.has(w) ? 'Operator' : 'Identifier');
  }

  private scanPointer(): void {
    this.emit('Operator');
    this.start = this.pos;
    while (this.pos < this.src.length && isAlphaNumeric(this.peek())) this.pos++;
    if (this.pos > this.start) this.emit('Identifier');
  }

  private scanNumber(first: string): void {
    let digits = '0123456789_';
    if (first === '0') {
      if (this.accept('xX')) digits = '0123456789abcdefABCDEF_';
      else if (this.accept('oO')) digits = '01234567_';
      else if (this.accept('bB')) digits = '01_';
    }
    const integerPart = () => {
      while (this.accept(digits));
    };
    if (first !== '.') integerPart();
    // "1..2" is a range, not the float "1." followed by ".2".
    if (first === '.' || (this.peek() === '.' && this.peek(1) !== '.' && this.accept('.'))) integerPart();
    if (this.accept('eE')) {
      this.accept('+-');
      integerPart();
    }
    if (isAlphaNumeric(this.peek())) {
      this.pos++;
      this.fail(`bad number syntax: ${JSON.stringify(this.word())}`);
    }
    this.emit('Number');
  }

  private scanQuoted(quote: string): string {
    let out = '';
    for (;;) {
      const c = this.next();
      if (c === '') this.fail('literal not terminated'); // at the position just past the end, as expr
      if (c === quote) return out;
      out += c === '\\' ? this.scanEscape(quote) : c;
    }
  }

  private scanEscape(quote: string): string {
    const c = this.next();
    const simple: Record<string, string> = {
      a: '\x07',
      b: '\b',
      f: '\f',
      n: '\n',
      r: '\r',
      t: '\t',
      v: '\v',
      '\\': '\\',
    };
    if (c === quote) return c;
    if (c in simple) return simple[c]!;
    const hex = (n: number) => this.scanDigits(n, 16);
    if (c >= '0' && c <= '7') {
      this.pos--;
      const v = this.scanDigits(3, 8);
      if (v > 255) this.fail('invalid char escape');
      return String.fromCodePoint(v);
    }
    if (c === 'x') return String.fromCodePoint(hex(2));
    if (c === 'u' || c === 'U') {
      const v = hex(c === 'u' ? 4 : 8);
      if (v > 0x10ffff || (v >= 0xd800 && v < 0xe000)) this.fail('invalid char escape');
      return String.fromCodePoint(v);
    }
    this.fail('invalid char escape');
  }

  private scanDigits(n: number, base: number): number {
    let v = 0;
    for (let i = 0; i < n; i++) {
      const d = Number.parseInt(this.next(), base);
      if (Number.isNaN(d)) this.fail('invalid char escape');
      v = v * base + d;
    }
    return v;
  }

  private scanRaw(): string {
    let out = '';
    for (;;) {
      const c = this.next();
      if (c === '') this.fail('literal not terminated');
      if (c === '`') return out;
      out += c;
    }
  }

  private skipLineComment(): void {
    while (this.pos < this.src.length && this.next() !== '\n');
  }

  private skipBlockComment(): void {
    for (;;) {
      const c = this.next();
      if (c === '') this.fail('unclosed comment');
      if (c === '*' && this.accept('/')) return;
    }
  }
}

/** Go's %#U: U+0040 '@'. */
function describeRune(c: string): string {
  const cp = c.codePointAt(0) ?? 0;
  return `U+${cp.toString(16).toUpperCase().padStart(4, '0')} '${c}'`;
}
