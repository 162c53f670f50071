import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { PriceTable } from '../../src/anthropic/pricing.js';

const usage = {
  input_tokens: 1_000_000,
  output_tokens: 1_000_000,
  cache_creation_input_tokens: 0,
  cache_read_input_tokens: 0,
};

describe('PriceTable', () => {
  const t = new PriceTable();

  it('matches dated snapshots and -latest aliases by longest prefix', () => {
    expect(t.lookup('claude-3-5-haiku-latest')?.input).toBe(0.8);
    expect(t.lookup('claude-sonnet-4-5-20250929')?.output).toBe(15);
    expect(t.lookup('claude-opus-4-1-20250805')?.input).toBe(15);
    expect(t.lookup('claude-opus-4-5')?.input).toBe(5);
    expect(t.lookup('gpt-4')).toBeUndefined();
  });

  it('prices input, output, cache writes (1.25×) and cache reads (0.1×)', () => {
    expect(t.cost('claude-3-5-haiku-latest', usage)).toBeCloseTo(4.8, 9);
    const cache = {
      input_tokens: 0,
      output_tokens: 0,
      cache_creation_input_tokens: 1_000_000,
      cache_read_input_tokens: 1_000_000,
    };
    expect(t.cost('claude-sonnet-4-5', cache)).toBeCloseTo(3 * 1.25 + 3 * 0.1, 9);
    expect(t.cost('unknown-model', usage)).toBe(0);
  });

  it('loads overrides from a file and names a bad entry', () => {
    const dir = mkdtempSync(join(tmpdir(), 'pq-price-'));
    const good = join(dir, 'p.json');
    writeFileSync(
      good,
      JSON.stringify({ 'my-model': { input: 1, output: 2 }, 'claude-3-5-haiku': { input: 1, output: 5 } }),
    );
    const custom = PriceTable.load(good);
    expect(custom.cost('my-model-v1', usage)).toBeCloseTo(3, 9);
    expect(custom.lookup('claude-3-5-haiku-latest')?.output).toBe(5);
    const bad = join(dir, 'bad.json');
    writeFileSync(bad, JSON.stringify({ x: { input: 'cheap' } }));
    expect(() => PriceTable.load(bad)).toThrow(/"x" needs numeric/);
    expect(() => PriceTable.load(join(dir, 'missing.json'))).toThrow(/cannot read/);
  });
});
