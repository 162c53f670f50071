import { describe, expect, it } from 'vitest';
import { PriceTable } from '../../src/anthropic/pricing.js';

describe('pricing: the Message Batches discount', () => {
  it('halves every token type, cache writes and reads included', () => {
    const t = new PriceTable();
    const usage = {
      input_tokens: 1_000_000,
      output_tokens: 200_000,
      cache_creation_input_tokens: 300_000,
      cache_read_input_tokens: 2_000_000,
    };
    const standard = t.priceCall(usage, 'claude-sonnet-4-5')?.total;
    expect(standard).toBeCloseTo(3 + 0.2 * 15 + 0.3 * 3.75 + 2 * 0.3, 9);
    expect(t.priceCall(usage, 'claude-sonnet-4-5', { batch: true })?.total).toBeCloseTo(standard! / 2, 9);
    expect(t.priceCall(usage, 'claude-sonnet-4-5', { batch: false })?.total).toBe(standard);
    expect(t.priceCall(usage, 'unknown-model', { batch: true })).toBeNull();
  });
});
