/** One scored image: the true person count and the detector's. */
export interface CountPair {
  truth: number;
  predicted: number;
}

export interface CountMetrics {
  /** Images scored. */
  n: number;
  /** Mean absolute error: mean of |predicted − truth|. */
  mae: number;
  /** Mean of predicted − truth: negative = under-counting. */
  bias: number;
  /** Share of images counted exactly, in percent. */
  exactPct: number;
  /** Share of images counted within ±1, in percent. */
  within1Pct: number;
  /** Largest |predicted − truth|. */
  maxError: number;
  /** Sums, so callers can show totals (e.g. "found 310 of 352 people"). */
  truthTotal: number;
  predictedTotal: number;
}

/** Count-accuracy metrics over a set of images. An empty set gives n = 0 and NaN for the means. */
export function countMetrics(pairs: readonly CountPair[]): CountMetrics {
  const n = pairs.length;
  let absSum = 0;
  let diffSum = 0;
  let exact = 0;
  let within1 = 0;
  let maxError = 0;
  let truthTotal = 0;
  let predictedTotal = 0;
  for (const { truth, predicted } of pairs) {
    const diff = predicted - truth;
    const abs = Math.abs(diff);
    absSum += abs;
    diffSum += diff;
    if (abs === 0) exact++;
    if (abs <= 1) within1++;
    if (abs > maxError) maxError = abs;
    truthTotal += truth;
    predictedTotal += predicted;
  }
  return {
    n,
    mae: n ? absSum / n : NaN,
    bias: n ? diffSum / n : NaN,
    exactPct: n ? (100 * exact) / n : NaN,
    within1Pct: n ? (100 * within1) / n : NaN,
    maxError,
    truthTotal,
    predictedTotal,
  };
}

/** Median and 95th percentile (nearest rank) of a list of timings; NaN when empty. */
export function timingStats(values: readonly number[]): { median: number; p95: number; mean: number } {
  if (values.length === 0) return { median: NaN, p95: NaN, mean: NaN };
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  const median = sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
  const p95 = sorted[Math.min(sorted.length - 1, Math.ceil(0.95 * sorted.length) - 1)]!;
  const mean = values.reduce((s, v) => s + v, 0) / values.length;
  return { median, p95, mean };
}
