import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { modelId, type PriceList, parsePricingPage, refresh } from '../../scripts/refresh-prices.js';

const page = `
| Model             | Base Input Tokens | 5m Cache Writes | 1h Cache Writes | Cache Hits & Refreshes | Output Tokens |
|-------------------|-------------------|-----------------|-----------------|------------------------|---------------|
| Claude Opus 4.5   | $5 / MTok         | $6.25 / MTok    | $10 / MTok      | $0.50 / MTok           | $25 / MTok    |
| Claude Sonnet 4.5 | $3 / MTok         | $3.75 / MTok    | $6 / MTok       | $0.30 / MTok           | $15 / MTok    |
| Claude Haiku 3.5  | $0.80 / MTok      | $1 / MTok       | $1.6 / MTok     | $0.08 / MTok           | $4 / MTok     |
| Claude Opus 4     | $15 / MTok        | $18.75 / MTok   | $30 / MTok      | $1.50 / MTok           | $75 / MTok    |
| Claude Opus 5.5   | $4 / MTok         | $5 / MTok       | $8 / MTok       | $0.20 / MTok           | $20 / MTok    |
| Claude Fable 5.1  | $10 / MTok        | $12.50 / MTok   | $20 / MTok      | $0.25 / MTok           | $50 / MTok    |
`;
const cache = (w5: number, w1: number, r: number) => ({ cache_write: w5, cache_write_1h: w1, cache_read: r });

describe('scripts/refresh-prices', () => {
  it('names models as the API does', () => {
    expect(modelId('Claude Sonnet 4.5')).toBe('claude-sonnet-4-5');
    expect(modelId('Claude Haiku 3.5 (deprecated)')).toBe('claude-3-5-haiku');
    expect(modelId('Claude Opus 4')).toBe('claude-opus-4-0');
    expect(modelId('Claude Opus 5.5')).toBe('claude-opus-5-5');
    expect(modelId('Claude Mythos 5 (limited availability)')).toBe('claude-mythos-5');
    expect(modelId('GPT-4')).toBeNull();
  });

  it('reads input, output and cache prices from the pricing page table', () => {
    expect(parsePricingPage(page)).toEqual({
      'claude-opus-4-5': { input: 5, output: 25, ...cache(6.25, 10, 0.5) },
      'claude-sonnet-4-5': { input: 3, output: 15, ...cache(3.75, 6, 0.3) },
      'claude-3-5-haiku': { input: 0.8, output: 4, ...cache(1, 1.6, 0.08) },
      'claude-opus-4-0': { input: 15, output: 75, ...cache(18.75, 30, 1.5) },
      'claude-opus-5-5': { input: 4, output: 20, ...cache(5, 8, 0.2) },
      'claude-fable-5-1': { input: 10, output: 50, ...cache(12.5, 20, 0.25) },
    });
  });

  it('keeps aliases and long-context tiers, takes the new prices and drops unlisted models', () => {
    const current = JSON.parse(
      readFileSync(new URL('../../src/providers/anthropic/prices.json', import.meta.url), 'utf8'),
    ) as PriceList;
    const next = refresh(current, page.replace('$3 / MTok', '$2 / MTok'), 'page.md', '2026-01-02');
    expect(next.retrieved).toBe('2026-01-02');
    expect(next.source).toContain('page.md');
    expect(next.models['claude-sonnet-4-5']).toMatchObject({
      input: 2,
      output: 15,
      aliases: ['claude-sonnet-4-5-20250929'],
      long_context: { threshold: 200000 },
    });
    expect(next.models['claude-haiku-4-5']).toBeUndefined();
    expect(() => refresh(current, 'nothing here', 'x', 'd')).toThrow(/no model prices/);
  });
});
