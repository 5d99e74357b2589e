/**
 * Values of the condition language and the Go semantics they follow.
 *
 * Go's int and float64 are different types in expr (`1 / 2` is a float,
 * `[1] == [1.0]` is false), so integers are bigints here (int64, wrapping on
 * overflow as Go does) and floats are numbers. Numbers that come from JSON
 * (a provider's result) are floats, as Go's encoding/json decodes them.
 */
export type Value = null | boolean | bigint | number | string | Value[] | { [key: string]: Value };
export type MapValue = { [key: string]: Value };

export const isInt = (v: unknown): v is bigint => typeof v === 'bigint';
export const isFloat = (v: unknown): v is number => typeof v === 'number';
export const isNumber = (v: unknown): v is bigint | number => isInt(v) || isFloat(v);
export const isMap = (v: unknown): v is MapValue => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Go's int64 wrap-around. */
export const int64 = (v: bigint): bigint => BigInt.asIntN(64, v);

/** The name Go's %T prints for a value as expr holds it. */
export function typeName(v: unknown): string {
  if (v === null || v === undefined) return '<nil>';
  switch (typeof v) {
    case 'boolean':
      return 'bool';
    case 'bigint':
      return 'int';
    case 'number':
      return 'float64';
    case 'string':
      return 'string';
  }
  if (Array.isArray(v)) return '[]interface {}';
  if (isMap(v)) return 'map[string]interface {}';
  return typeof v;
}

/** Go's float64 → int conversion (truncation; amd64 gives the minimum int64 for NaN and overflow). */
export function truncToInt(f: number): bigint {
  if (!Number.isFinite(f) || Math.abs(f) >= 2 ** 63) return -(1n << 63n);
  return BigInt(Math.trunc(f));
}

/** runtime.ToInt: any number to int, anything else is an error. */
export function toInt(v: Value): bigint {
  if (isInt(v)) return v;
  if (isFloat(v)) return truncToInt(v);
  throw new TypeError(`invalid operation: int(${typeName(v)})`);
}

/**
 * runtime.Equal: numbers of either kind compare by value, arrays element by
 * element with the same rule, nil equals nil, the rest (maps) deeply and strictly.
 */
export function equal(a: Value, b: Value): boolean {
  if (isNumber(a) && isNumber(b)) return isInt(a) && isInt(b) ? a === b : Number(a) === Number(b);
  if (a === null || b === null) return a === b;
  if (Array.isArray(a) && Array.isArray(b))
    return a.length === b.length && a.every((x, i) => equal(x, b[i]!));
  return deepEqual(a, b);
}

/** reflect.DeepEqual on JSON-like values: an int never equals a float, NaN never equals itself. */
export function deepEqual(a: Value, b: Value): boolean {
  if (typeof a !== typeof b) return false;
  if (Array.isArray(a) || Array.isArray(b)) {
    if (!Array.isArray(a) || !Array.isArray(b) || a.length !== b.length) return false;
    return a.every((x, i) => deepEqual(x, b[i]!));
  }
  if (isMap(a) && isMap(b)) {
    const ka = Object.keys(a);
    if (ka.length !== Object.keys(b).length) return false;
    return ka.every((k) => Object.hasOwn(b, k) && deepEqual(a[k]!, b[k]!));
  }
  return a === b;
}

/** Go's fmt %v, as expr's string() uses it. */
export function format(v: Value): string {
  if (v === null) return '<nil>';
  if (isFloat(v)) return formatFloat(v);
  if (Array.isArray(v)) return `[${v.map(format).join(' ')}]`;
  if (isMap(v))
    return `map[${Object.keys(v)
      .sort()
      .map((k) => `${k}:${format(v[k]!)}`)
      .join(' ')}]`;
  return String(v);
}

/** %v of a float64: shortest digits, exponent form below 1e-4 and from 1e6 (Go's %g with shortest precision). */
export function formatFloat(f: number): string {
  if (Number.isNaN(f)) return 'NaN';
  if (!Number.isFinite(f)) return f > 0 ? '+Inf' : '-Inf';
  if (f === 0) return Object.is(f, -0) ? '-0' : '0';
  const [mantissa, exp] = f.toExponential().split('e') as [string, string];
  const e = Number(exp);
  if (e < -4 || e >= 6) return `${mantissa}e${e < 0 ? '-' : '+'}${String(Math.abs(e)).padStart(2, '0')}`;
  return String(f);
}

/** Turns a JSON-decoded value (or anything a provider hands over) into a Value; numbers become floats. */
export function fromHost(v: unknown, depth = 0): Value {
  if (depth > 1000) throw new RangeError('value is nested too deeply');
  if (v === null || v === undefined) return null;
  switch (typeof v) {
    case 'boolean':
    case 'string':
    case 'bigint':
    case 'number':
      return v;
  }
  if (Array.isArray(v)) return v.map((x) => fromHost(x, depth + 1));
  if (v instanceof Float64Array) return Array.from(v);
  if (typeof v === 'object') {
    const out: MapValue = {};
    for (const [k, x] of Object.entries(v)) setKey(out, k, fromHost(x, depth + 1));
    return out;
  }
  throw new TypeError(`cannot use a ${typeof v} as a condition value`);
}

/** Sets a map key as an own property, also for "__proto__". */
export function setKey(map: MapValue, key: string, value: Value): void {
  Object.defineProperty(map, key, { value, enumerable: true, writable: true, configurable: true });
}
