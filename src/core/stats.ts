/**
 * Percentiles, one definition: nearest rank (the smallest value with at least a share `q` of the
 * values at or below it), so a reported p95 is always a value that was actually observed.
 */

/** Nearest-rank quantile (`q` in 0..1) of values already sorted ascending; `null` when empty. */
export function quantileOfSorted(sorted: ArrayLike<number>, q: number): number | null {
  if (sorted.length === 0) return null;
  const rank = Math.min(sorted.length, Math.max(1, Math.ceil(q * sorted.length)));
  return sorted[rank - 1] ?? null;
}

/** Nearest-rank quantile (`q` in 0..1) of unsorted values; `null` when there are none. */
export function quantile(values: Iterable<number>, q: number): number | null {
  return quantileOfSorted(Float64Array.from(values).sort(), q);
}

/**
 * The quantile of a histogram: the upper bound of the bucket holding it. `counts` has one entry per
 * bound plus a last +Inf bucket, which reports the largest finite bound (as Prometheus does).
 */
export function bucketQuantile(
  counts: readonly number[],
  bounds: readonly number[],
  q: number,
): number | null {
  const total = counts.reduce((a, b) => a + b, 0);
  if (total === 0) return null;
  let seen = 0;
  for (let i = 0; i < counts.length; i++) {
    seen += counts[i] ?? 0;
    if (seen >= q * total) return bounds[Math.min(i, bounds.length - 1)] ?? null;
  }
  return null;
}
