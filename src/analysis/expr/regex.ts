/**
 * `matches` with JavaScript's regular expressions, kept close to Go's RE2:
 * Go's leading flag group `(?i)`, `(?s)`, `(?m)` becomes a JavaScript flag;
 * what RE2 refuses (look-around, back-references) is refused here too; and,
 * because JavaScript's engine backtracks where RE2 does not, a pattern with
 * nested unbounded repetition such as `(a+)+` is refused, and the subject is
 * limited in length.
 */
const cache = new Map<string, RegExp>();
const maxCached = 64;
export const maxSubjectLength = 65_536;

export function matches(subject: string, pattern: string): boolean {
  if (subject.length > maxSubjectLength)
    throw new Error(`matches: the string is longer than ${maxSubjectLength} characters`);
  return compileRegex(pattern).test(subject);
}

export function compileRegex(pattern: string): RegExp {
  const hit = cache.get(pattern);
  if (hit) return hit;
  const re = translate(pattern);
  if (cache.size >= maxCached) cache.delete(cache.keys().next().value!);
  cache.set(pattern, re);
  return re;
}

function translate(pattern: string): RegExp {
  let flags = 'u';
  let body = pattern;
  const lead = /^\(\?([imsU]+)\)/.exec(body);
  if (lead) {
    if (lead[1]!.includes('U'))
      throw new Error('error parsing regexp: the (?U) flag is not supported by Kanary');
    for (const f of new Set(lead[1])) flags += f;
    body = body.slice(lead[0].length);
  }
  const unsupported = /\(\?<?[=!]|\\[1-9]|\\k</.exec(body);
  if (unsupported)
    throw new Error(`error parsing regexp: invalid or unsupported Perl syntax: \`${unsupported[0]}\``);
  if (hasNestedRepetition(body))
    throw new Error(
      'error parsing regexp: nested repetition such as (a+)+ is not supported by Kanary (it can take exponential time)',
    );
  try {
    return new RegExp(posixClasses(body), flags);
  } catch (e) {
    throw new Error(`error parsing regexp: ${(e as Error).message}`);
  }
}

/** True when an unbounded quantifier (*, +, {n,}) applies to a group that itself contains one. */
export function hasNestedRepetition(body: string): boolean {
  const groups: boolean[] = []; // per open group: does it contain an unbounded quantifier?
  let lastGroupRepeats = false; // the group just closed contained one
  let inClass = false;
  for (let i = 0; i < body.length; i++) {
    const c = body[i]!;
    if (c === '\\') {
      i++;
      lastGroupRepeats = false;
      continue;
    }
    if (inClass) {
      if (c === ']') inClass = false;
      continue;
    }
    const unbounded = c === '*' || c === '+' || (c === '{' && /^\{\d+,\}/.test(body.slice(i)));
    if (unbounded) {
      if (lastGroupRepeats) return true;
      if (groups.length > 0) groups[groups.length - 1] = true;
    }
    lastGroupRepeats = false;
    if (c === '[') inClass = true;
    else if (c === '(') groups.push(false);
    else if (c === ')') {
      const inner = groups.pop() ?? false;
      if (inner && groups.length > 0) groups[groups.length - 1] = true;
      lastGroupRepeats = inner;
    }
  }
  return false;
}

/** RE2's [[:alpha:]] style classes, which JavaScript lacks, as ASCII ranges (RE2's definition). */
const posix: Record<string, string> = {
  alnum: '0-9A-Za-z',
  alpha: 'A-Za-z',
  ascii: '\\x00-\\x7F',
  blank: '\\t ',
  cntrl: '\\x00-\\x1F\\x7F',
  digit: '0-9',
  graph: '!-~',
  lower: 'a-z',
  print: ' -~',
  punct: '!-\\/:-@\\[-`{-~',
  space: '\\t\\n\\v\\f\\r ',
  upper: 'A-Z',
  word: '0-9A-Za-z_',
  xdigit: '0-9A-Fa-f',
};

function posixClasses(body: string): string {
  return body.replace(/\[:(\^?)([a-z]+):\]/g, (whole, negated: string, name: string) => {
    const range = posix[name];
    if (!range) return whole;
    if (negated)
      throw new Error(`error parsing regexp: negated class [:^${name}:] is not supported by Kanary`);
    return range;
  });
}
