/**
 * Small pure helpers for plain JSON values: deep copy and equality, and RFC
 * 7386 merge patches (create and apply). The planner models Argo's sequence of
 * status patches with these, and emits merge patches as actions.
 */

export type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

export const isPlainObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

export function deepClone<T>(v: T): T {
  return v === undefined ? v : (JSON.parse(JSON.stringify(v)) as T);
}

/** Equality of JSON values, treating undefined members as absent. */
export function deepEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (Array.isArray(a) || Array.isArray(b)) {
    return (
      Array.isArray(a) && Array.isArray(b) && a.length === b.length && a.every((x, i) => deepEqual(x, b[i]))
    );
  }
  if (isPlainObject(a) && isPlainObject(b)) {
    const ka = Object.keys(a).filter((k) => a[k] !== undefined);
    const kb = Object.keys(b).filter((k) => b[k] !== undefined);
    return ka.length === kb.length && ka.every((k) => Object.hasOwn(b, k) && deepEqual(a[k], b[k]));
  }
  return false;
}

/**
 * The merge patch that turns `from` into `to` (removed keys become null,
 * arrays are replaced whole); undefined when they are equal.
 */
export function createMergePatch(from: unknown, to: unknown): unknown {
  if (!isPlainObject(from) || !isPlainObject(to)) {
    if (deepEqual(from, to)) return undefined;
    return to === undefined ? null : deepClone(to);
  }
  const patch: Record<string, unknown> = {};
  for (const key of Object.keys(from)) {
    if (from[key] === undefined || from[key] === null) continue;
    if (to[key] === undefined || to[key] === null) patch[key] = null;
  }
  for (const [key, value] of Object.entries(to)) {
    if (value === undefined || value === null) continue;
    const sub = createMergePatch(from[key], value);
    if (sub !== undefined) patch[key] = sub;
  }
  return Object.keys(patch).length > 0 ? patch : undefined;
}

/** RFC 7386: apply `patch` to `target` (returns a new value; inputs are not modified). */
export function applyMergePatch(target: unknown, patch: unknown): unknown {
  if (!isPlainObject(patch)) return deepClone(patch);
  const out: Record<string, unknown> = isPlainObject(target) ? deepClone(target) : {};
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) delete out[key];
    else if (value !== undefined) out[key] = applyMergePatch(out[key], value);
  }
  return out;
}
