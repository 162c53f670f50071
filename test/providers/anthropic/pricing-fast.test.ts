/**
 * Fast mode's price: the model's `fast` multiplier (prices.json) on every token price, cache
 * included; a fast call on a model whose multiplier the list does not have is unpriced (`null`),
 * and so is its worst case (a budget refuses it rather than hold a guess).
 */
import { describe, expect, it } from 'vitest';
import { worstCaseCost } from '../../../src/core/worst-case.js';
import { PriceTable } from '../../../src/providers/anthropic/pricing.js';

const table = new PriceTable();
const million = { input_tokens: 1_000_000, output_tokens: 1_000_000, cache_read_input_tokens: 1_000_000 };

describe('fast mode pricing', () => {
  it('Opus 5.5 fast is 2× its list prices on input, output and cache reads ($8 / $40 / $0.40)', () => {
    const standard = table.priceCall({ ...million, speed: 'standard' }, 'claude-opus-5-5');
    const fast = table.priceCall({ ...million, speed: 'fast' }, 'claude-opus-5-5');
    expect(standard).toMatchObject({ input: 4, output: 20, cache_read: 0.2, total: 24.2 });
    expect(fast).toMatchObject({ input: 8, output: 40, cache_read: 0.4, total: 48.4 });
  });

  it('Opus 4.6 fast is 6× ($30 / $150), Opus 5 and Fable 5.2 2×', () => {
    const usage = { input_tokens: 1_000_000, output_tokens: 1_000_000, speed: 'fast' };
    expect(table.priceCall(usage, 'claude-opus-4-6')?.total).toBe(180);
    expect(table.priceCall(usage, 'claude-opus-5')?.total).toBe(60);
    expect(table.priceCall(usage, 'claude-fable-5-2')?.total).toBe(96);
  });

  it('a fast call on a model without a fast multiplier has no price, and neither has its worst case', () => {
    expect(
      table.priceCall({ input_tokens: 10, output_tokens: 10, speed: 'fast' }, 'claude-opus-4-5'),
    ).toBeNull();
    expect(table.worstCase('claude-opus-4-5', { inputTokens: 10, maxTokens: 10, speed: 'fast' })).toBeNull();
    const request = {
      model: 'claude-opus-4-5',
      max_tokens: 10,
      messages: [{ role: 'user' as const, content: 'hi' }],
    };
    expect(worstCaseCost({ ...request, speed: 'fast' }, table).kind).toBe('unpriced');
    expect(worstCaseCost(request, table).kind).toBe('priced');
  });

  it('the worst case of a fast call is the multiplier times the standard one', () => {
    const call = { inputTokens: 1_000, maxTokens: 2_000 };
    const standard = table.worstCase('claude-opus-5-5', call) as number;
    expect(standard).toBeGreaterThan(0);
    expect(table.worstCase('claude-opus-5-5', { ...call, speed: 'fast' })).toBeCloseTo(2 * standard, 9);
    expect(table.worstCase('claude-opus-4-7', { ...call, speed: 'fast' })).toBeCloseTo(
      6 * (table.worstCase('claude-opus-4-7', call) as number),
      9,
    );
  });
});
