import { describe, expect, it } from 'vitest';
import { PriceTable } from '../../../src/providers/anthropic/pricing.js';

describe('pricing: the Message Batches discount', () => {
  it('halves every token type, cache writes and reads included', () => {
    const t = new PriceTable();
    const usage = {
      // 150,000 input tokens in all: below the 200,000 of the long-context tier.
      input_tokens: 100_000,
      output_tokens: 20_000,
      cache_creation_input_tokens: 30_000,
      cache_read_input_tokens: 20_000,
    };
    const standard = t.priceCall(usage, 'claude-sonnet-4-5')?.total;
    expect(standard).toBeCloseTo(0.1 * 3 + 0.02 * 15 + 0.03 * 3.75 + 0.02 * 0.3, 9);
    expect(t.priceCall(usage, 'claude-sonnet-4-5', { batch: true })?.total).toBeCloseTo(standard! / 2, 9);
    expect(t.priceCall(usage, 'claude-sonnet-4-5', { batch: false })?.total).toBe(standard);
    expect(t.priceCall(usage, 'unknown-model', { batch: true })).toBeNull();
  });
});
