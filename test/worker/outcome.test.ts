import { APIError } from '@anthropic-ai/sdk';
import { describe, expect, it } from 'vitest';
import { defaults } from '../../src/core/defaults.js';
import { type JobRecord, newRecord } from '../../src/core/record.js';
import { classifyError } from '../../src/providers/anthropic/classify.js';
import { judgeError, type RetryPolicy } from '../../src/worker/outcome.js';

const policy: RetryPolicy = {
  maxAttempts: 3,
  maxRateLimited: 1,
  backoff: { ...defaults.worker.backoff, baseMs: 100, maxMs: 1000 },
  random: () => 0,
};

function record(over: Partial<JobRecord> = {}): JobRecord {
  return {
    ...newRecord({ model: 'claude-haiku-4-5', max_tokens: 10, messages: [] }, 0),
    attempts: 1,
    ...over,
  };
}

const decision = (status: number, type: string, extra: Record<string, unknown> = {}) =>
  classifyError(
    APIError.generate(
      status,
      { type: 'error', error: { type, message: 'm', ...extra } },
      undefined,
      new Headers(),
    ),
  );

describe('judgeError: what a failed attempt means for the job', () => {
  it.each([
    [529, 'overloaded_error', 'retry'],
    [500, 'api_error', 'retry'],
    [400, 'invalid_request_error', 'failed'],
    [429, 'rate_limit_error', 'rate_limited'],
  ])('%i %s → %s', (status, type, kind) => {
    expect(judgeError(record(), decision(status, type), policy).kind).toBe(kind);
  });

  it('a spend limit is its own outcome, counted as a 429, never retried', () => {
    const r = record();
    const o = judgeError(
      r,
      decision(429, 'rate_limit_error', { details: { error_code: 'enforced_spend_limit_reached' } }),
      policy,
    );
    expect(o.kind).toBe('spend_limit');
    expect(r).toMatchObject({
      rate_limited: 1,
      retries: {},
      status_code: 429,
      error_type: 'rate_limit_error',
    });
  });

  it('429s do not count against the attempt budget; their own bound does', () => {
    // 3 attempts of which 2 were 429s: one real attempt spent, a 5xx may still retry.
    expect(
      judgeError(record({ attempts: 3, rate_limited: 1 }), decision(500, 'api_error'), policy).kind,
    ).toBe('retry');
    expect(judgeError(record({ attempts: 3 }), decision(500, 'api_error'), policy)).toMatchObject({
      kind: 'failed',
      message: 'gave up after 3 attempts: api_error (500): m',
    });
    const r = record({ rate_limited: 1 });
    expect(judgeError(r, decision(429, 'rate_limit_error'), policy)).toMatchObject({
      kind: 'failed',
      message: 'rate limited 2 times (the bound is 1): m',
    });
  });

  it('a retry counts its reason and waits the backoff for the retry number', () => {
    const r = record({ retries: { server_error: 1 } });
    const o = judgeError(r, decision(500, 'api_error'), policy);
    // 5xx: half the base, doubled for the second retry, half of it fixed (random() = 0).
    expect(o).toMatchObject({ kind: 'retry', delayMs: 50 });
    expect(r.retries).toEqual({ server_error: 2 });
  });
});
