/**
 * Statistics for checking a measured traffic share against a configured weight.
 */

/** Two-sided standard normal quantile for a confidence level (0.99 → 2.5758…), by Acklam's rational approximation. */
export function normalQuantile(p: number): number {
  if (!(p > 0 && p < 1)) throw new RangeError(`probability must be in (0, 1), got ${p}`);
  const a = [
    -39.69683028665376, 220.9460984245205, -275.9285104469687, 138.357751867269, -30.66479806614716,
    2.506628277459239,
  ];
  const b = [
    -54.47609879822406, 161.5858368580409, -155.6989798598866, 66.80131188771972, -13.28068155288572,
  ];
  const c = [
    -0.007784894002430293, -0.3223964580411365, -2.400758277161838, -2.549732539343734, 4.374664141464968,
    2.938163982698783,
  ];
  const d = [0.007784695709041462, 0.3224671290700398, 2.445134137142996, 3.754408661907416];
  const lo = 0.02425;
  const poly = (cs: number[], x: number) => cs.reduce((acc, k) => acc * x + k, 0);
  if (p < lo) {
    const q = Math.sqrt(-2 * Math.log(p));
    return poly(c, q) / (poly(d, q) * q + 1);
  }
  if (p > 1 - lo) return -normalQuantile(1 - p);
  const q = p - 0.5;
  const r = q * q;
  return (poly(a, r) * q) / (poly(b, r) * r + 1);
}

export interface Interval {
  low: number;
  high: number;
}

/**
 * Wilson score interval for a binomial proportion: successes out of n, at the
 * given confidence. Well behaved near 0 and 1, unlike the normal approximation.
 */
export function wilsonInterval(successes: number, n: number, confidence = 0.99): Interval {
  if (n <= 0) return { low: 0, high: 1 };
  const z = normalQuantile(1 - (1 - confidence) / 2);
  const p = successes / n;
  const z2 = z * z;
  const denom = 1 + z2 / n;
  const centre = (p + z2 / (2 * n)) / denom;
  const half = (z * Math.sqrt((p * (1 - p)) / n + z2 / (4 * n * n))) / denom;
  return { low: Math.max(0, centre - half), high: Math.min(1, centre + half) };
}

/**
 * Whether `observed` out of `n` is consistent with a true share `expected` at
 * the confidence level: the two-sided acceptance region of the binomial test,
 * i.e. the range a correct data plane lands in with that probability.
 */
export function acceptanceRegion(
  expected: number,
  n: number,
  confidence = 0.99,
): { min: number; max: number } {
  // exact binomial quantiles by summing the pmf (n is at most a few thousand)
  const alpha = (1 - confidence) / 2;
  if (expected <= 0) return { min: 0, max: 0 };
  if (expected >= 1) return { min: n, max: n };
  const logPmf = (k: number) => logChoose(n, k) + k * Math.log(expected) + (n - k) * Math.log(1 - expected);
  let cdf = 0;
  let min = 0;
  for (let k = 0; k <= n; k++) {
    cdf += Math.exp(logPmf(k));
    if (cdf > alpha) {
      min = k;
      break;
    }
  }
  let tail = 0;
  let max = n;
  for (let k = n; k >= 0; k--) {
    tail += Math.exp(logPmf(k));
    if (tail > alpha) {
      max = k;
      break;
    }
  }
  return { min, max };
}

function logChoose(n: number, k: number): number {
  return logFactorial(n) - logFactorial(k) - logFactorial(n - k);
}

const lfCache: number[] = [0];
function logFactorial(n: number): number {
  for (let i = lfCache.length; i <= n; i++) lfCache[i] = lfCache[i - 1]! + Math.log(i);
  return lfCache[n]!;
}
