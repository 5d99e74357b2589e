/**
 * Kubernetes resource.Quantity canonical form ("0.5" → "500m", "1024Mi" →
 * "1Gi", "1500000" → "1500k"). Go re-serializes every quantity this way, and
 * the pod-template hash is computed over that serialization.
 */

const DECIMAL_SUFFIX_EXPONENT: Record<string, number> = {
  n: -9,
  u: -6,
  m: -3,
  '': 0,
  k: 3,
  M: 6,
  G: 9,
  T: 12,
  P: 15,
  E: 18,
};
const BINARY_SUFFIX_POWER: Record<string, number> = { Ki: 1, Mi: 2, Gi: 3, Ti: 4, Pi: 5, Ei: 6 };
const DECIMAL_EXPONENT_SUFFIX = new Map(Object.entries(DECIMAL_SUFFIX_EXPONENT).map(([s, e]) => [e, s]));
const BINARY_POWER_SUFFIX = new Map(Object.entries(BINARY_SUFFIX_POWER).map(([s, p]) => [p, s]));

type Format = 'DecimalSI' | 'BinarySI' | 'DecimalExponent';

/** value = mantissa × 10^exponent */
interface Parsed {
  mantissa: bigint;
  exponent: number;
  format: Format;
}

const QUANTITY_RE = /^([+-]?)(\d+(?:\.\d*)?|\.\d+)([a-zA-Z]*)([+-]?\d*)$/;

function parse(input: string): Parsed | undefined {
  const m = QUANTITY_RE.exec(input.trim());
  if (!m) return undefined;
  const [, sign = '', number = '', letters = '', expDigits = ''] = m;
  const [whole = '', frac = ''] = number.split('.');
  let mantissa = BigInt(`${whole}${frac}` || '0');
  let exponent = -frac.length;
  let format: Format;
  if ((letters === 'e' || letters === 'E') && expDigits !== '') {
    format = 'DecimalExponent';
    exponent += Number(expDigits);
  } else if (expDigits !== '') {
    return undefined;
  } else if (letters in BINARY_SUFFIX_POWER) {
    format = 'BinarySI';
    // multiply by 1024^p = 2^(10p); keep the decimal exponent for the fraction
    mantissa *= 1024n ** BigInt(BINARY_SUFFIX_POWER[letters] as number);
  } else if (letters in DECIMAL_SUFFIX_EXPONENT) {
    format = 'DecimalSI';
    exponent += DECIMAL_SUFFIX_EXPONENT[letters] as number;
  } else {
    return undefined;
  }
  if (sign === '-') mantissa = -mantissa;
  // Kubernetes keeps nano precision at most, rounding what is below it away from zero
  if (exponent < -9) {
    const divisor = 10n ** BigInt(-9 - exponent);
    const q = mantissa / divisor;
    mantissa = mantissa % divisor === 0n ? q : mantissa > 0n ? q + 1n : q - 1n;
    exponent = -9;
  }
  return { mantissa, exponent, format };
}

/** Whether Kubernetes can parse this as a resource.Quantity. */
export function isQuantity(input: unknown): boolean {
  if (typeof input === 'number') return Number.isFinite(input);
  return typeof input === 'string' && parse(input) !== undefined;
}

const MAX_INT64 = 2n ** 63n - 1n;
const GO_SUFFIX_EXPONENT: Readonly<Record<string, [base: 2 | 10, exponent: number]>> = {
  ...Object.fromEntries(Object.entries(DECIMAL_SUFFIX_EXPONENT).map(([s, e]) => [s, [10, e]])),
  ...Object.fromEntries(Object.entries(BINARY_SUFFIX_POWER).map(([s, p]) => [s, [2, p * 10]])),
};

/**
 * Whether Go's resource.ParseQuantity keeps the string as written, which
 * MarshalJSON then prints back unchanged ("+1", "01", "1E3", "1e+3", "+1Ki"):
 * its int64 fast path does so when the digits fit in 18 places and the value
 * already looks canonical (a decimal scale that is a multiple of 3 with no
 * "000" tail and no leading zero digit, or a power-of-1024 binary suffix on a
 * value not divisible by 8).
 */
function keptAsWritten(text: string): boolean {
  if (text === '0') return true;
  const m = /^[+-]?0*(\d*)(?:\.(\d*))?([eEinumkKMGTP]*[+-]?\d*)$/.exec(text);
  if (!m) return false;
  const num = m[1] || '0';
  const denom = m[2] ?? '';
  const suffix = m[3] ?? '';
  let base: 2 | 10;
  let exponent: number;
  const known = GO_SUFFIX_EXPONENT[suffix];
  if (known) [base, exponent] = known;
  else if (suffix.length > 1 && /^[eE][+-]?\d+$/.test(suffix))
    [base, exponent] = [10, Number(suffix.slice(1))];
  else return false;
  const digits = num.length + denom.length;
  if (base === 10) {
    if (18 - digits < 0) return false;
    const scale = exponent - denom.length;
    const shifted = `${num}${denom}`;
    return scale >= -9 && scale % 3 === 0 && !shifted.endsWith('000') && shifted[0] !== '0';
  }
  if (denom.length > 0 || 15 - num.length - Math.trunc((exponent * 3) / 10) - 1 < 0) return false;
  const value = BigInt(num);
  return value * 2n ** BigInt(exponent) <= MAX_INT64 && exponent % 10 === 0 && (value & 7n) !== 0n;
}

/** Returns Go's canonical string for a quantity, or the input unchanged if it does not parse. */
export function canonicalQuantity(input: string | number): string {
  const text = (typeof input === 'number' ? String(input) : input).trim();
  const q = parse(text);
  if (!q) return text;
  if (keptAsWritten(text)) return text;
  if (q.mantissa === 0n) return '0';
  let { mantissa, exponent } = q;
  let format = q.format;
  // Go caps binary quantities at the largest int64
  if (format === 'BinarySI' && exactCompareBig(mantissa, exponent, MAX_INT64) > 0) {
    mantissa = MAX_INT64;
    exponent = 0;
  }
  if (format === 'BinarySI') {
    const value = exponent >= 0 ? mantissa * 10n ** BigInt(exponent) : undefined;
    const small = exactCompare(mantissa, exponent, 1024) < 0 && exactCompare(mantissa, exponent, -1024) > 0;
    if (small) format = 'DecimalSI';
    else if (value === undefined && !divides(mantissa, exponent)) format = 'DecimalSI';
    else {
      let integer = value ?? mantissa / 10n ** BigInt(-exponent);
      let power = 0;
      while (integer % 1024n === 0n && power < 6) {
        integer /= 1024n;
        power++;
      }
      return `${integer}${BINARY_POWER_SUFFIX.get(power) ?? ''}`;
    }
  }
  // strip trailing zeros into the exponent, then move down to a multiple of 3
  while (mantissa !== 0n && mantissa % 10n === 0n) {
    mantissa /= 10n;
    exponent++;
  }
  const rem = ((exponent % 3) + 3) % 3;
  mantissa *= 10n ** BigInt(rem);
  exponent -= rem;
  if (format === 'DecimalExponent') return exponent === 0 ? `${mantissa}` : `${mantissa}e${exponent}`;
  // Go prints no suffix at all for a decimal exponent past "E" (1000E marshals as "1")
  return `${mantissa}${DECIMAL_EXPONENT_SUFFIX.get(exponent) ?? ''}`;
}

/** Whether mantissa × 10^exponent is an integer. */
function divides(mantissa: bigint, exponent: number): boolean {
  return exponent >= 0 || mantissa % 10n ** BigInt(-exponent) === 0n;
}

/** Sign of (mantissa × 10^exponent − n), exactly. */
function exactCompare(mantissa: bigint, exponent: number, n: number): number {
  return exactCompareBig(mantissa, exponent, BigInt(n));
}

function exactCompareBig(mantissa: bigint, exponent: number, n: bigint): number {
  const left = exponent >= 0 ? mantissa * 10n ** BigInt(exponent) : mantissa;
  const right = exponent >= 0 ? n : n * 10n ** BigInt(-exponent);
  return left < right ? -1 : left > right ? 1 : 0;
}
