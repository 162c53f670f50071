import { describe, expect, it } from 'vitest';
import { cacheReadsCountTowardItpm } from '../../src/core/models.js';
import { cachePrefixKey, estimateCachePrefixTokens, estimateInputTokens } from '../../src/core/tokens.js';

const text = (chars: number) => 'x'.repeat(chars);

describe('cacheable prefix estimate', () => {
  it('counts the blocks up to and including the last cache_control, in API order (tools, system, messages)', () => {
    const request = {
      tools: [{ name: 't', description: text(400), input_schema: {} }],
      system: [{ type: 'text', text: text(4_000), cache_control: { type: 'ephemeral' } }],
      messages: [{ role: 'user' as const, content: text(800) }],
    };
    const prefix = estimateCachePrefixTokens(request);
    // The system block (4,000 characters / 4), not the question after it; tools are outside the
    // estimate altogether.
    expect(prefix).toBe(1_000);
    expect(estimateInputTokens(request) - prefix).toBeGreaterThanOrEqual(200);
  });

  it('is 0, with no key, when nothing is marked; the key changes with the prefix, not with what follows', () => {
    const plain = { messages: [{ role: 'user' as const, content: text(4_000) }] };
    expect(estimateCachePrefixTokens(plain)).toBe(0);
    expect(cachePrefixKey(plain)).toBeUndefined();
    const system = [{ type: 'text', text: text(4_000), cache_control: { type: 'ephemeral' } }];
    const a = cachePrefixKey({ system, messages: [{ role: 'user', content: 'one' }] });
    const b = cachePrefixKey({ system, messages: [{ role: 'user', content: 'two' }] });
    const other = cachePrefixKey({
      system: [{ ...system[0], text: text(3_999) }],
      messages: [{ role: 'user', content: 'one' }],
    });
    expect(a).toBeDefined();
    expect(a).toBe(b);
    expect(other).not.toBe(a);
  });

  it('cache reads count toward ITPM only on older models', () => {
    expect(cacheReadsCountTowardItpm('claude-haiku-4-5')).toBe(false);
    expect(cacheReadsCountTowardItpm('claude-sonnet-4-6')).toBe(false);
    expect(cacheReadsCountTowardItpm('claude-3-haiku-20240307')).toBe(true);
    expect(cacheReadsCountTowardItpm('claude-3-5-haiku-latest')).toBe(true);
  });
});
