import { describe, expect, it } from 'vitest';
import { parseRateLimitHeaders } from '../../../src/providers/anthropic/rate-limit-headers.js';

describe('parseRateLimitHeaders', () => {
  it('reads a real response header sample', () => {
    const h = new Headers({
      'anthropic-ratelimit-requests-limit': '4000',
      'anthropic-ratelimit-requests-remaining': '3999',
      'anthropic-ratelimit-requests-reset': '2026-11-26T22:40:01Z',
      'anthropic-ratelimit-input-tokens-limit': '2000000',
      'anthropic-ratelimit-input-tokens-remaining': '1998000',
      'anthropic-ratelimit-input-tokens-reset': '2026-11-26T22:40:00.123+00:00',
      'anthropic-ratelimit-output-tokens-limit': '400000',
      'anthropic-ratelimit-output-tokens-remaining': '399000',
      'anthropic-ratelimit-output-tokens-reset': '2026-11-26T22:40:02Z',
      'anthropic-ratelimit-tokens-limit': '2400000',
      'anthropic-ratelimit-tokens-remaining': '2397000',
      'anthropic-ratelimit-tokens-reset': '2026-11-26T22:40:02Z',
    });
    const s = parseRateLimitHeaders(h);
    expect(s.requests).toEqual({ limit: 4000, remaining: 3999, resetAt: Date.parse('2026-11-26T22:40:01Z') });
    expect(s.input_tokens?.resetAt).toBe(Date.parse('2026-11-26T22:40:00.123Z'));
    expect(s.output_tokens?.remaining).toBe(399000);
    expect(s.tokens?.limit).toBe(2400000);
  });

  it('leaves out missing resources and garbage values', () => {
    expect(parseRateLimitHeaders(new Headers())).toEqual({});
    expect(parseRateLimitHeaders(null)).toEqual({});
    const s = parseRateLimitHeaders(
      new Headers({
        'anthropic-ratelimit-requests-limit': 'lots',
        'anthropic-ratelimit-requests-remaining': '-5',
        'anthropic-ratelimit-requests-reset': 'tomorrow',
        'anthropic-ratelimit-tokens-remaining': '12.5',
        'anthropic-ratelimit-input-tokens-reset': 'Thu, 26 Nov 2026 22:40:01 GMT',
        'anthropic-ratelimit-output-tokens-limit': '99999999999999999999',
      }),
    );
    expect(s).toEqual({});
  });

  it('a fast call reads its anthropic-fast-* bucket at the exact values, never the standard headers', () => {
    const h = new Headers({
      'anthropic-ratelimit-requests-limit': '4000',
      'anthropic-ratelimit-requests-remaining': '3999',
      'anthropic-ratelimit-input-tokens-limit': '2000000',
      'anthropic-ratelimit-input-tokens-remaining': '1998000',
      'anthropic-ratelimit-output-tokens-limit': '400000',
      'anthropic-ratelimit-output-tokens-remaining': '399000',
      'anthropic-fast-input-tokens-limit': '250000',
      'anthropic-fast-input-tokens-remaining': '249000',
      'anthropic-fast-input-tokens-reset': '2026-12-07T12:00:01Z',
      'anthropic-fast-output-tokens-limit': '50000',
      'anthropic-fast-output-tokens-remaining': '48000',
      'anthropic-fast-output-tokens-reset': '2026-12-07T12:00:03Z',
    });
    expect(parseRateLimitHeaders(h, 'fast')).toEqual({
      input_tokens: { limit: 250000, remaining: 249000, resetAt: Date.parse('2026-12-07T12:00:01Z') },
      output_tokens: { limit: 50000, remaining: 48000, resetAt: Date.parse('2026-12-07T12:00:03Z') },
    });
    // A standard call of the same answer reads the standard bucket and ignores the fast one.
    const standard = parseRateLimitHeaders(h);
    expect(standard.requests?.limit).toBe(4000);
    expect(standard.output_tokens).toEqual({ limit: 400000, remaining: 399000, resetAt: undefined });
    // A fast answer without fast headers announces nothing (not the standard bucket's limits).
    expect(
      parseRateLimitHeaders(new Headers({ 'anthropic-ratelimit-requests-limit': '4000' }), 'fast'),
    ).toEqual({});
  });
});
