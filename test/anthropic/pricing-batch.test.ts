import { describe, expect, it } from 'vitest';
import { batchDiscount, PriceTable } from '../../src/anthropic/pricing.js';

describe('pricing: the Message Batches discount', () => {
  it('halves every token type, cache writes and reads included', () => {
    const t = new PriceTable();
    const usage = {
      input_tokens: 1_000_000,
      output_tokens: 200_000,
      cache_creation_input_tokens: 300_000,
      cache_read_input_tokens: 2_000_000,
    };
    expect(batchDiscount).toBe(0.5);
    const standard = t.cost('claude-sonnet-4-6', usage);
    expect(standard).toBeCloseTo(3 + 0.2 * 15 + 0.3 * 3.75 + 2 * 0.3, 9);
    expect(t.cost('claude-sonnet-4-6', usage, { batch: true })).toBeCloseTo(standard / 2, 9);
    expect(t.cost('claude-sonnet-4-6', usage, { batch: false })).toBe(standard);
    expect(t.cost('unknown-model', usage, { batch: true })).toBe(0);
  });
});
