/**
 * Pause durations exactly as Argo reads them (`RolloutPause.DurationSeconds`):
 * an integer is seconds; a string is first tried as a decimal integer (a bare
 * "10" means 10 s), then as a Go duration ("30s", "1m30s", "1.5h"); anything
 * else is -1, which validation rejects.
 */
import type { IntOrString } from './types.ts';

const NANOS_PER_UNIT: Record<string, number> = {
  ns: 1,
  us: 1e3,
  µs: 1e3, // U+00B5 micro sign
  μs: 1e3, // U+03BC Greek mu
  ms: 1e6,
  s: 1e9,
  m: 60e9,
  h: 3600e9,
};

// math.MaxInt64 nanoseconds (about 292 years); float precision is fine at this scale
const MAX_INT64_NANOS = 2 ** 63 - 1;

/**
 * Go's time.ParseDuration, returning nanoseconds, or undefined when Go would
 * return an error. Precision beyond float64 does not matter for pause steps.
 */
export function parseGoDuration(input: string): number | undefined {
  let s = input;
  let negative = false;
  if (s.startsWith('-') || s.startsWith('+')) {
    negative = s[0] === '-';
    s = s.slice(1);
  }
  if (s === '0') return 0;
  if (s === '') return undefined;
  let total = 0;
  while (s !== '') {
    const m = /^(\d*)(?:\.(\d*))?/.exec(s);
    const whole = m?.[1] ?? '';
    const frac = m?.[2];
    // Go requires at least one digit before or after the dot
    if (whole === '' && (frac === undefined || frac === '')) return undefined;
    s = s.slice(m?.[0].length ?? 0);
    const unit = /^[^\d.]+/.exec(s)?.[0];
    if (unit === undefined) return undefined; // "missing unit"
    const scale = NANOS_PER_UNIT[unit];
    if (scale === undefined) return undefined; // "unknown unit"
    s = s.slice(unit.length);
    const value = Number(`${whole || '0'}.${frac || '0'}`) * scale;
    total += value;
    if (total > MAX_INT64_NANOS) return undefined; // "invalid duration" (overflow)
  }
  return negative ? -total : total;
}

const INT32_MIN = -2147483648;
const INT32_MAX = 2147483647;

/** Seconds of a pause step duration; -1 when the string is not a duration. */
export function pauseDurationSeconds(duration: IntOrString | undefined | null): number {
  if (duration === undefined || duration === null) return 0;
  if (typeof duration === 'number') return Math.trunc(duration);
  // strconv.ParseInt(s, 10, 32): optional sign, decimal digits only, int32 range
  if (/^[+-]?\d+$/.test(duration)) {
    const n = Number(duration);
    if (n >= INT32_MIN && n <= INT32_MAX) return n;
  }
  const nanos = parseGoDuration(duration);
  if (nanos === undefined) return -1;
  return Math.trunc(nanos / 1e9);
}

/** How Argo prints a pause duration in step strings (IntOrString.String()). */
export function durationString(duration: IntOrString): string {
  return typeof duration === 'number' ? String(Math.trunc(duration)) : duration;
}
