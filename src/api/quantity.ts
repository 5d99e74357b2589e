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
  // Kubernetes keeps nano precision at most, rounding up what is below it
  if (exponent < -9) {
    const divisor = 10n ** BigInt(-9 - exponent);
    const q = mantissa / divisor;
    mantissa = mantissa % divisor === 0n ? q : mantissa > 0n ? q + 1n : q;
    exponent = -9;
  }
  return { mantissa, exponent, format };
}

/** Whether Kubernetes can parse this as a resource.Quantity. */
export function isQuantity(input: unknown): boolean {
  if (typeof input === 'number') return Number.isFinite(input);
  return typeof input === 'string' && parse(input) !== undefined;
}

/** Returns Go's canonical string for a quantity, or the input unchanged if it does not parse. */
export function canonicalQuantity(input: string | number): string {
  const text = typeof input === 'number' ? String(input) : input;
  const q = parse(text);
  if (!q) return text;
  if (q.mantissa === 0n) return '0';
  let { mantissa, exponent } = q;
  let format = q.format;
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
  const suffix = DECIMAL_EXPONENT_SUFFIX.get(exponent);
  return suffix === undefined ? `${mantissa}e${exponent}` : `${mantissa}${suffix}`;
}

/** Whether mantissa × 10^exponent is an integer. */
function divides(mantissa: bigint, exponent: number): boolean {
  return exponent >= 0 || mantissa % 10n ** BigInt(-exponent) === 0n;
}

/** Sign of (mantissa × 10^exponent − n), exactly. */
function exactCompare(mantissa: bigint, exponent: number, n: number): number {
  const left = exponent >= 0 ? mantissa * 10n ** BigInt(exponent) : mantissa;
  const right = exponent >= 0 ? BigInt(n) : BigInt(n) * 10n ** BigInt(-exponent);
  return left < right ? -1 : left > right ? 1 : 0;
}
