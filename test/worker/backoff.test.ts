import { describe, expect, it } from 'vitest';
import { defaults } from '../../src/core/defaults.js';
import type { Decision } from '../../src/providers/provider.js';
import { backoffMs } from '../../src/worker/backoff.js';

/** A 500 as any provider classifies it. */
const serverError: Decision = {
  outcome: 'server_error',
  retry: true,
  reason: 'server_error',
  statusCode: 500,
  errorType: 'api_error',
  errorCode: null,
  spendLimit: false,
  retryAfterMs: null,
  message: 'api_error message',
  requestId: 'req_abc',
  signals: {},
};

describe('backoffMs', () => {
  const d = (over: Partial<Decision>): Decision => ({ ...serverError, ...over });

  it('waits at least retry-after when given', () => {
    for (let i = 0; i < 50; i++) {
      const ms = backoffMs(d({ retryAfterMs: 2000 }), 1);
      expect(ms).toBeGreaterThanOrEqual(2000);
      expect(ms).toBeLessThan(2250);
    }
  });

  it('grows exponentially with jitter and is capped', () => {
    const lo = () => 0;
    const hi = () => 0.999999;
    expect(backoffMs(d({}), 1, lo)).toBe(250);
    expect(backoffMs(d({}), 3, lo)).toBe(1000);
    expect(backoffMs(d({}), 3, hi)).toBeLessThan(2000);
    expect(backoffMs(d({ outcome: 'overloaded' }), 1, lo)).toBe(1000);
    expect(backoffMs(d({}), 30, hi)).toBeLessThanOrEqual(60_000);
    expect(backoffMs(d({}), 1, lo, { ...defaults.worker.backoff, baseMs: 20, maxMs: 100 })).toBe(5);
    expect(
      backoffMs(d({}), 10, hi, { ...defaults.worker.backoff, baseMs: 20, maxMs: 100 }),
    ).toBeLessThanOrEqual(100);
  });
});
