/**
 * The part of Kubernetes' JSONPath template syntax (client-go util/jsonpath,
 * which Argo's web provider uses) that metrics need: `{$}`, `{.a.b}`,
 * `{$.a.b}`, `{.a[0]}`, `{.a[-1]}`, `{.a['b-c']}`, `{.a["b"]}`, `{.a[*].b}`
 * and `{..b}` are not all of it: filters, unions, slices and recursive
 * descent are refused with a clear error. Hand-written: the only JSONPath
 * package around (jsonpath-plus, a transitive dependency) implements
 * Goessner's syntax, not the braces-and-`$`-optional Kubernetes one.
 */
export type Step = { kind: 'field'; name: string } | { kind: 'index'; index: number } | { kind: 'wildcard' };

export class JsonPathError extends Error {
  override readonly name = 'JsonPathError';
}

/** Parses `{…}`; the text around the braces is not supported (it would be the result). */
export function parseJsonPath(template: string): Step[] | JsonPathError {
  const t = template.trim();
  if (!t.startsWith('{') || !t.endsWith('}'))
    return new JsonPathError(`unsupported JSONPath ${JSON.stringify(template)}: expected one {…} expression`);
  let s = t.slice(1, -1).trim();
  if (s.startsWith('$')) s = s.slice(1);
  const steps: Step[] = [];
  let i = 0;
  const bad = (why: string) => new JsonPathError(`unsupported JSONPath ${JSON.stringify(template)}: ${why}`);
  while (i < s.length) {
    const c = s[i]!;
    if (c === '.') {
      if (s[i + 1] === '.') return bad('recursive descent (..) is not supported');
      i++;
      if (s[i] === '*') {
        steps.push({ kind: 'wildcard' });
        i++;
        continue;
      }
      const m = /^[A-Za-z0-9_\-/]+/.exec(s.slice(i));
      if (!m) {
        if (i >= s.length) break; // `{.}` is the root
        return bad(`unexpected ${JSON.stringify(s[i])} at ${i}`);
      }
      steps.push({ kind: 'field', name: m[0] });
      i += m[0].length;
    } else if (c === '[') {
      const close = s.indexOf(']', i);
      if (close < 0) return bad('unclosed [');
      const inner = s.slice(i + 1, close).trim();
      i = close + 1;
      if (inner === '*') steps.push({ kind: 'wildcard' });
      else if (/^-?\d+$/.test(inner)) steps.push({ kind: 'index', index: Number(inner) });
      else if (/^'[^']*'$|^"[^"]*"$/.test(inner)) steps.push({ kind: 'field', name: inner.slice(1, -1) });
      else return bad(`[${inner}] (filters, unions and slices are not supported)`);
    } else return bad(`unexpected ${JSON.stringify(c)} at ${i}`);
  }
  return steps;
}

/** All values the path finds (in document order); none when a step does not apply, as client-go without allowMissingKeys fails. */
export function findResults(data: unknown, steps: readonly Step[]): unknown[] | JsonPathError {
  let current: unknown[] = [data];
  for (const step of steps) {
    const next: unknown[] = [];
    for (const v of current) {
      if (step.kind === 'field') {
        if (v === null || typeof v !== 'object' || Array.isArray(v) || !Object.hasOwn(v, step.name))
          return new JsonPathError(`${step.name} is not found`);
        next.push((v as Record<string, unknown>)[step.name]);
      } else if (step.kind === 'index') {
        if (!Array.isArray(v)) return new JsonPathError(`array index on a non-array`);
        const idx = step.index < 0 ? v.length + step.index : step.index;
        if (idx < 0 || idx >= v.length)
          return new JsonPathError(`array index out of bounds: index ${step.index}, length ${v.length}`);
        next.push(v[idx]);
      } else {
        if (Array.isArray(v)) next.push(...v);
        else if (v && typeof v === 'object') next.push(...Object.values(v));
      }
    }
    current = next;
  }
  return current;
}
