import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { PriceTable, priceCall, vendoredPriceList } from '../../../src/providers/anthropic/pricing.js';

const M = 1_000_000;

describe('the vendored price list', () => {
  it('says where and when its prices come from', () => {
    const list = vendoredPriceList();
    expect(list.source).toMatch(/^Anthropic's public price list, https:\/\//);
    expect(list.retrieved).toMatch(/^\d{4}-\d{2}-\d{2}$/);
  });

  it('matches ids, aliases and dated snapshots, never a neighbour by prefix', () => {
    const t = new PriceTable();
    expect(t.lookup('claude-3-5-haiku-latest')?.input).toBe(0.8);
    expect(t.lookup('claude-sonnet-4-5-20250929')?.output).toBe(15);
    expect(t.lookup('claude-opus-4-1-20250805')?.input).toBe(15);
    expect(t.lookup('claude-opus-4-5')?.input).toBe(5);
    expect(t.lookup('claude-haiku-4-5-20991231')?.input).toBe(1);
    // A newer model of a priced family is not given its family's price: it is unpriced.
    expect(t.lookup('claude-opus-4-9')).toBeUndefined();
    expect(t.lookup('claude-sonnet-4-5-turbo')).toBeUndefined();
    expect(t.lookup('gpt-4')).toBeUndefined();
  });
});

describe('the simulator and the price list', () => {
  it('every model the simulator lists has a price', async () => {
    const { SERVED_MODELS } = await import('@promptq/anthropic-simulator');
    const t = new PriceTable();
    expect(SERVED_MODELS.length).toBeGreaterThan(0);
    for (const m of SERVED_MODELS) expect(t.lookup(m.id), m.id).toBeDefined();
  });
});

describe('priceCall: every part by hand', () => {
  const t = new PriceTable();

  it('input, output, 5-minute writes (1.25×), 1-hour writes (2×), cache reads (0.1×), web searches', () => {
    const usage = {
      input_tokens: 1000,
      output_tokens: 2000,
      cache_creation_input_tokens: 7000,
      cache_read_input_tokens: 10_000,
      cache_creation: { ephemeral_5m_input_tokens: 3000, ephemeral_1h_input_tokens: 4000 },
      server_tool_use: { web_search_requests: 3 },
      service_tier: 'standard',
    };
    // claude-sonnet-4-5: $3 in, $15 out per million.
    const c = t.priceCall(usage, 'claude-sonnet-4-5');
    expect(c).toEqual({
      input: (1000 * 3) / M,
      output: (2000 * 15) / M,
      cache_write_5m: (3000 * 3.75) / M,
      cache_write_1h: (4000 * 6) / M,
      cache_read: (10_000 * 0.3) / M,
      server_tools: 0.03,
      long_context: false,
      service_tier: 'standard',
      batch: false,
      total: 0.003 + 0.03 + 0.01125 + 0.024 + 0.003 + 0.03,
    });
  });

  it('a 1-hour write costs 2× input, not 1.25×', () => {
    const one = (ttl: '5m' | '1h') =>
      t.cost('claude-haiku-4-5', {
        input_tokens: 0,
        output_tokens: 0,
        cache_creation_input_tokens: M,
        cache_creation: {
          ephemeral_5m_input_tokens: ttl === '5m' ? M : 0,
          ephemeral_1h_input_tokens: ttl === '1h' ? M : 0,
        },
      });
    expect(one('5m')).toBe(1.25);
    expect(one('1h')).toBe(2);
  });

  it('without usage.cache_creation every write counts as 5-minute', () => {
    expect(
      t.cost('claude-haiku-4-5', { input_tokens: 0, output_tokens: 0, cache_creation_input_tokens: M }),
    ).toBe(1.25);
  });

  it('the long-context tier: over 200k input tokens (cache included) all tokens at the higher rates', () => {
    const at = (input: number) =>
      t.priceCall(
        { input_tokens: input, output_tokens: M, cache_read_input_tokens: 100_000 },
        'claude-sonnet-4-5',
      );
    const below = at(100_000);
    expect(below?.long_context).toBe(false);
    expect(below?.total).toBeCloseTo(0.3 + 15 + 0.03, 9);
    const above = at(100_001);
    expect(above?.long_context).toBe(true);
    // $6 in, $22.50 out, reads 0.1 × $6.
    expect(above?.total).toBeCloseTo(100_001 * 6e-6 + 22.5 + 100_000 * 0.6e-6, 9);
    // Haiku 4.5 has no long-context tier.
    expect(t.priceCall({ input_tokens: 300_000, output_tokens: 0 }, 'claude-haiku-4-5')?.long_context).toBe(
      false,
    );
  });

  it('the Batches discount halves token prices (as an option, or from service_tier "batch"), not server tools', () => {
    const usage = { input_tokens: M, output_tokens: M, server_tool_use: { web_search_requests: 10 } };
    expect(t.cost('claude-haiku-4-5', usage)).toBe(1 + 5 + 0.1);
    expect(t.cost('claude-haiku-4-5', usage, { batch: true })).toBe(0.5 + 2.5 + 0.1);
    expect(t.priceCall({ ...usage, service_tier: 'batch' }, 'claude-haiku-4-5')).toMatchObject({
      batch: true,
      total: 3.1,
    });
    expect(priceCall(usage, 'claude-haiku-4-5', { batch: true })?.total).toBe(3.1);
  });

  it('the priority tier: at its own price where the list has one, else at the list price', () => {
    const usage = { input_tokens: M, output_tokens: 0, service_tier: 'priority' };
    expect(t.priceCall(usage, 'claude-haiku-4-5')).toMatchObject({ service_tier: 'priority', total: 1 });
    const withPriority = new PriceTable({
      models: { m: { input: 1, output: 5, priority: { input: 1.5, output: 7 } } },
    });
    expect(withPriority.priceCall(usage, 'm')).toMatchObject({ service_tier: 'priority', total: 1.5 });
    // The hold covers the tier that may answer: priority unless the request says standard_only.
    expect(withPriority.worstCase('m', { inputTokens: 0, maxTokens: M })).toBe(7);
    expect(withPriority.worstCase('m', { inputTokens: 0, maxTokens: M, serviceTier: 'standard_only' })).toBe(
      5,
    );
  });

  it('the current lineup is priced: Opus 5.5, Sonnet 5.5, Haiku 5.5 (with its long-prompt step), Fable 5.x, Opus 4.6-4.8', () => {
    expect(t.cost('claude-opus-5-5', { input_tokens: M, output_tokens: M, cache_read_input_tokens: M })).toBe(
      24.2,
    );
    expect(t.cost('claude-sonnet-5-5', { input_tokens: M, output_tokens: M })).toBe(12);
    expect(t.cost('claude-fable-5-1', { input_tokens: M, output_tokens: M })).toBe(60);
    expect(t.cost('claude-fable-5', { input_tokens: 0, output_tokens: M })).toBe(50);
    for (const m of ['claude-opus-4-6', 'claude-opus-4-7', 'claude-opus-4-8'])
      expect(t.cost(m, { input_tokens: M, output_tokens: M })).toBe(30);
    // Haiku 5.5: $0.10 / $0.50 up to a 100,000-token prompt, 5x on every token above it.
    expect(t.cost('claude-haiku-5-5', { input_tokens: 100_000, output_tokens: M })).toBeCloseTo(0.51, 9);
    expect(t.cost('claude-haiku-5-5', { input_tokens: 100_001, output_tokens: M })).toBeCloseTo(
      100_001 * 0.5e-6 + 2.5,
      9,
    );
  });

  it('an unknown model has no cost: null, not 0', () => {
    expect(t.priceCall({ input_tokens: 10, output_tokens: 10 }, 'claude-opus-4-9')).toBeNull();
    expect(t.cost('claude-opus-4-9', { input_tokens: 10, output_tokens: 10 })).toBeNull();
  });

  it('worstCase: every input token as a 1-hour write, max_tokens of output, every allowed search', () => {
    expect(t.worstCase('claude-haiku-4-5', { inputTokens: M, maxTokens: M, webSearches: 5 })).toBe(
      2 + 5 + 0.05,
    );
    expect(t.worstCase('claude-haiku-4-5', { inputTokens: M, maxTokens: M }, { batch: true })).toBe(3.5);
    expect(t.worstCase('claude-sonnet-4-5', { inputTokens: 300_000, maxTokens: 0 })).toBeCloseTo(
      300_000 * 12e-6,
      9,
    );
    expect(t.worstCase('claude-opus-4-9', { inputTokens: 1, maxTokens: 1 })).toBeNull();
  });
});

describe('PROMPTQ_PRICING_FILE', () => {
  const dir = mkdtempSync(join(tmpdir(), 'pq-price-'));
  const usage = { input_tokens: M, output_tokens: M };

  it('a flat file adds prefix entries over the list; a bad entry is named', () => {
    const good = join(dir, 'p.json');
    writeFileSync(
      good,
      JSON.stringify({ 'my-model': { input: 1, output: 2 }, 'claude-3-5-haiku': { input: 1, output: 5 } }),
    );
    const custom = PriceTable.load(good);
    expect(custom.cost('my-model-v1', usage)).toBeCloseTo(3, 9);
    expect(custom.lookup('claude-3-5-haiku-latest')?.output).toBe(5);
    expect(custom.lookup('claude-haiku-4-5')?.output).toBe(5);
    const bad = join(dir, 'bad.json');
    writeFileSync(bad, JSON.stringify({ x: { input: 'cheap' } }));
    expect(() => PriceTable.load(bad)).toThrow(/"x" needs numeric/);
    expect(() => PriceTable.load(join(dir, 'missing.json'))).toThrow(/cannot read/);
  });

  it('a file in the shape of prices.json replaces the list', () => {
    const full = join(dir, 'full.json');
    const list = JSON.parse(
      readFileSync(new URL('../../../src/providers/anthropic/prices.json', import.meta.url), 'utf8'),
    );
    list.models = { 'claude-opus-4-8': { input: 5, output: 25 } };
    writeFileSync(full, JSON.stringify(list));
    const t = PriceTable.load(full);
    expect(t.cost('claude-opus-4-8', usage)).toBe(30);
    expect(t.lookup('claude-haiku-4-5')).toBeUndefined();
  });
});
