import { describe, expect, it } from 'vitest';
import { bucketQuantile, quantile, quantileOfSorted } from '../../src/core/stats.js';

describe('percentiles', () => {
  it('quantile is nearest-rank', () => {
    expect(quantile([], 0.95)).toBeNull();
    expect(quantile([3, 1, 2], 0.5)).toBe(2);
    expect(
      quantile(
        Array.from({ length: 100 }, (_, i) => i + 1),
        0.95,
      ),
    ).toBe(95);
    expect(quantile([7], 0.95)).toBe(7);
    // An even count: the lower middle value, one that was observed.
    expect(quantile([4, 1, 3, 2], 0.5)).toBe(2);
  });

  it('quantileOfSorted reads sorted values without copying them', () => {
    expect(quantileOfSorted(Float64Array.from([10, 20, 30, 40]), 0.95)).toBe(40);
    expect(quantileOfSorted([], 0.5)).toBeNull();
  });

  it('bucketQuantile reports the upper bound of the bucket holding the quantile', () => {
    const bounds = [100, 250, 500];
    expect(bucketQuantile([0, 0, 0, 0], bounds, 0.5)).toBeNull();
    expect(bucketQuantile([1, 8, 1, 0], bounds, 0.5)).toBe(250);
    expect(bucketQuantile([1, 8, 1, 0], bounds, 0.95)).toBe(500);
    // The +Inf bucket reports the largest finite bound, as Prometheus does.
    expect(bucketQuantile([0, 0, 0, 5], bounds, 0.5)).toBe(500);
  });
});
