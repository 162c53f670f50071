/** A regional Bedrock or Vertex endpoint costs 10% more for the newer models; global ones as the API. */
import { describe, expect, it } from 'vitest';
import { PriceTable } from '../../src/providers/anthropic/pricing.js';
import { endpointPricing } from '../../src/providers/provider-pricing.js';

const usage = { input_tokens: 1_000_000, output_tokens: 100_000, cache_read_input_tokens: 200_000 };

describe('per-endpoint prices', () => {
  const base = new PriceTable();
  it('regional: every part of the price × 1.1 on Sonnet 4.5 (dated id too); global: the API price', () => {
    const api = base.priceCall(usage, 'claude-sonnet-4-5')!;
    const regional = endpointPricing(base, true).priceCall(usage, 'claude-sonnet-4-5-20250929')!;
    expect(regional.total).toBeCloseTo(api.total * 1.1, 9);
    expect(regional.input).toBeCloseTo(api.input * 1.1, 9);
    expect(endpointPricing(base, false).priceCall(usage, 'claude-sonnet-4-5')!.total).toBe(api.total);
    expect(
      endpointPricing(base, true).worstCase('claude-haiku-4-5', { inputTokens: 10, maxTokens: 10 }),
    ).toBeCloseTo(base.worstCase('claude-haiku-4-5', { inputTokens: 10, maxTokens: 10 })! * 1.1, 12);
  });
  it('older models have no regional premium', () => {
    expect(endpointPricing(base, true).priceCall(usage, 'claude-opus-4-1')!.total).toBe(
      base.priceCall(usage, 'claude-opus-4-1')!.total,
    );
  });
  it('every model from Sonnet 4.5 on has the premium, those after Opus 4.6 included; every older one none', () => {
    const regional = endpointPricing(base, true);
    for (const model of [
      'claude-opus-4-8',
      'claude-opus-5-5',
      'claude-fable-5-2',
      'claude-sonnet-5-5',
      'claude-haiku-5-5',
    ]) {
      expect(regional.priceCall(usage, model)!.total, model).toBeCloseTo(
        base.priceCall(usage, model)!.total * 1.1,
        9,
      );
    }
    for (const model of [
      'claude-opus-4-20250514',
      'claude-sonnet-4-0',
      'claude-3-5-haiku-20241022',
      'claude-3-7-sonnet-latest',
    ]) {
      expect(regional.priceCall(usage, model)!.total, model).toBe(base.priceCall(usage, model)!.total);
    }
  });
});
