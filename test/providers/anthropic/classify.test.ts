import { APIConnectionError, APIConnectionTimeoutError, APIError } from '@anthropic-ai/sdk';
import { describe, expect, it } from 'vitest';
import {
  classifyBatchError,
  classifyError,
  parseRetryAfter,
} from '../../../src/providers/anthropic/classify.js';
import { AttemptTimeoutError } from '../../../src/providers/provider.js';

function apiError(
  status: number,
  type: string,
  extra: Record<string, unknown> = {},
  headers: Record<string, string> = {},
) {
  const body = { type: 'error', error: { type, message: `${type} message`, ...extra } };
  return APIError.generate(status, body, undefined, new Headers({ 'request-id': 'req_abc', ...headers }));
}

describe('classifyError: the retry decision table', () => {
  it.each([
    [429, 'rate_limit_error', 'rate_limited', true, 'rate_limited'],
    [529, 'overloaded_error', 'overloaded', true, 'overloaded'],
    [500, 'api_error', 'server_error', true, 'server_error'],
    [502, 'api_error', 'server_error', true, 'server_error'],
    [503, 'api_error', 'server_error', true, 'server_error'],
    [504, 'timeout_error', 'server_error', true, 'server_error'],
    [408, 'timeout_error', 'timeout', true, 'timeout'],
    [400, 'invalid_request_error', 'client_error', false, 'invalid_request'],
    [401, 'authentication_error', 'client_error', false, 'authentication'],
    [402, 'billing_error', 'client_error', false, 'billing'],
    [403, 'permission_error', 'client_error', false, 'permission'],
    [404, 'not_found_error', 'client_error', false, 'not_found'],
    [413, 'request_too_large', 'client_error', false, 'request_too_large'],
    [422, 'invalid_request_error', 'client_error', false, 'client_error'],
  ])('%i %s → %s, retry=%s', (status, type, outcome, retry, reason) => {
    const d = classifyError(apiError(status, type));
    expect(d).toMatchObject({
      outcome,
      retry,
      reason,
      statusCode: status,
      errorType: type,
      requestId: 'req_abc',
    });
    expect(d.message).toBe(`${type} message`);
  });

  it('honours retry-after (seconds, HTTP date) and retry-after-ms', () => {
    expect(classifyError(apiError(429, 'rate_limit_error', {}, { 'retry-after': '7' })).retryAfterMs).toBe(
      7000,
    );
    expect(
      classifyError(apiError(529, 'overloaded_error', {}, { 'retry-after-ms': '1500' })).retryAfterMs,
    ).toBe(1500);
    const now = Date.parse('2026-11-26T22:00:00Z');
    expect(parseRetryAfter(new Headers({ 'retry-after': 'Thu, 26 Nov 2026 22:00:03 GMT' }), now)).toBe(3000);
    expect(parseRetryAfter(new Headers({ 'retry-after': 'soon' }))).toBeNull();
  });

  it('a spend-limit 429 is not retried', () => {
    for (const code of ['enforced_spend_limit_reached', 'contract_spend_limit_reached']) {
      const d = classifyError(apiError(429, 'rate_limit_error', { details: { error_code: code } }));
      expect(d).toMatchObject({
        outcome: 'rate_limited',
        retry: false,
        spendLimit: true,
        errorCode: code,
        reason: 'spend_limit',
      });
    }
    // Another error_code on a 429 is an ordinary rate limit.
    const ramp = classifyError(
      apiError(429, 'rate_limit_error', { details: { error_code: 'ramp_limit_exceeded' } }),
    );
    expect(ramp).toMatchObject({ retry: true, spendLimit: false, errorCode: 'ramp_limit_exceeded' });
  });

  it('mid-stream error events (no status) follow their type', () => {
    const over = new APIError(
      undefined,
      { type: 'error', error: { type: 'overloaded_error', message: 'Overloaded' } },
      undefined,
      new Headers(),
      'overloaded_error',
    );
    expect(classifyError(over)).toMatchObject({
      outcome: 'overloaded',
      retry: true,
      statusCode: null,
      errorType: 'overloaded_error',
    });
    const api = new APIError(
      undefined,
      { type: 'error', error: { type: 'api_error', message: 'x' } },
      undefined,
      new Headers(),
      'api_error',
    );
    expect(classifyError(api)).toMatchObject({ outcome: 'server_error', retry: true });
  });

  it('connection errors and timeouts retry', () => {
    expect(
      classifyError(
        new APIConnectionError({ message: 'Connection error.', cause: new Error('socket hang up') }),
      ),
    ).toMatchObject({
      outcome: 'network_error',
      retry: true,
      statusCode: null,
      message: 'Connection error.: socket hang up',
    });
    expect(classifyError(new APIConnectionTimeoutError())).toMatchObject({ outcome: 'timeout', retry: true });
    expect(classifyError(new AttemptTimeoutError(5000))).toMatchObject({
      outcome: 'timeout',
      retry: true,
      errorType: 'timeout_error',
    });
  });
});

describe('rate-limit signals of an error answer', () => {
  it('a 429 carries its anthropic-ratelimit-* headers as signals; no answer carries none (null)', () => {
    const d = classifyError(
      apiError(
        429,
        'rate_limit_error',
        {},
        { 'anthropic-ratelimit-requests-limit': '50', 'anthropic-ratelimit-requests-remaining': '0' },
      ),
    );
    expect(d.signals).toEqual({ requests: { limit: 50, remaining: 0, resetAt: undefined } });
    // An answer without such headers: signals, but none announced.
    expect(classifyError(apiError(500, 'api_error')).signals).toEqual({});
    expect(classifyError(new APIConnectionError({ message: 'Connection error.' })).signals).toBeNull();
  });

  it("a fast call's 429 carries its fast bucket (anthropic-fast-*) as signals, not the standard one", () => {
    const err = apiError(
      429,
      'rate_limit_error',
      {},
      {
        'anthropic-ratelimit-output-tokens-limit': '90000',
        'anthropic-ratelimit-output-tokens-remaining': '89000',
        'anthropic-fast-output-tokens-limit': '3000',
        'anthropic-fast-output-tokens-remaining': '0',
        'retry-after': '2',
      },
    );
    expect(classifyError(err, 'fast').signals).toEqual({
      output_tokens: { limit: 3000, remaining: 0, resetAt: undefined },
    });
    expect(classifyError(err).signals).toEqual({
      output_tokens: { limit: 90000, remaining: 89000, resetAt: undefined },
    });
  });
});

describe('classifyBatchError: an errored Message Batches result', () => {
  it.each([
    ['overloaded_error', 'overloaded', true],
    ['rate_limit_error', 'rate_limited', true],
    ['api_error', 'server_error', true],
    ['timeout_error', 'timeout', true],
    ['invalid_request_error', 'client_error', false],
    ['authentication_error', 'client_error', false],
  ] as const)('%s → %s, retry %s', (type, outcome, retry) => {
    expect(classifyBatchError(type, 'why')).toMatchObject({
      outcome,
      retry,
      errorType: type,
      message: 'why',
      statusCode: null,
      signals: null,
    });
  });
});
