/**
 * Anthropic's errors → promptq's {@link Decision}, in one table. Every API attempt that fails goes
 * through {@link classifyError}; the worker only acts on the decision.
 */

import { APIConnectionError, APIConnectionTimeoutError, APIError } from '@anthropic-ai/sdk';
import { own } from '../../core/dict.js';
import { AttemptTimeoutError, type Decision } from '../provider.js';
import { parseRateLimitHeaders, type Speed } from './rate-limit-headers.js';

/** `error_code`s of 429s that mean money, not pace: waiting a few seconds will not help. */
export const spendLimitCodes: ReadonlySet<string> = new Set([
  'enforced_spend_limit_reached',
  'contract_spend_limit_reached',
  'linked_organization_spend_limit_reached',
]);

interface Row {
  outcome: Decision['outcome'];
  retry: boolean;
  reason: string;
}

/** HTTP status → decision. Statuses not listed: 5xx → server_error (retry), other 4xx → client_error (fail). */
const byStatus: Readonly<Record<number, Row>> = {
  400: { outcome: 'client_error', retry: false, reason: 'invalid_request' },
  401: { outcome: 'client_error', retry: false, reason: 'authentication' },
  402: { outcome: 'client_error', retry: false, reason: 'billing' },
  403: { outcome: 'client_error', retry: false, reason: 'permission' },
  404: { outcome: 'client_error', retry: false, reason: 'not_found' },
  408: { outcome: 'timeout', retry: true, reason: 'timeout' },
  409: { outcome: 'client_error', retry: true, reason: 'conflict' },
  413: { outcome: 'client_error', retry: false, reason: 'request_too_large' },
  429: { outcome: 'rate_limited', retry: true, reason: 'rate_limited' },
  500: { outcome: 'server_error', retry: true, reason: 'server_error' },
  529: { outcome: 'overloaded', retry: true, reason: 'overloaded' },
};

/** Mid-stream `event: error` types (no status: the response had already started with 200). */
const byStreamErrorType: Readonly<Record<string, Row>> = {
  overloaded_error: { outcome: 'overloaded', retry: true, reason: 'overloaded' },
  rate_limit_error: { outcome: 'rate_limited', retry: true, reason: 'rate_limited' },
  api_error: { outcome: 'server_error', retry: true, reason: 'server_error' },
  timeout_error: { outcome: 'timeout', retry: true, reason: 'timeout' },
};

/** Parse `retry-after-ms`, then `retry-after` (seconds or an HTTP date). */
export function parseRetryAfter(headers: Headers | null | undefined, now = Date.now()): number | null {
  if (!headers) return null;
  const ms = headers.get('retry-after-ms');
  if (ms !== null && /^\d+(\.\d+)?$/.test(ms.trim())) return Math.round(Number(ms));
  const ra = headers.get('retry-after');
  if (ra === null) return null;
  const s = ra.trim();
  if (/^\d+(\.\d+)?$/.test(s)) return Math.round(Number(s) * 1000);
  const at = Date.parse(s);
  return Number.isNaN(at) ? null : Math.max(0, at - now);
}

function rowFor(status: number): Row {
  const row = byStatus[status];
  if (row) return row;
  if (status >= 500) return { outcome: 'server_error', retry: true, reason: 'server_error' };
  return { outcome: 'client_error', retry: false, reason: 'client_error' };
}

/** Classify anything an attempt threw (a `speed: "fast"` call's rate-limit signals are its fast bucket's). */
export function classifyError(err: unknown, speed: Speed = 'standard'): Decision {
  if (err instanceof AttemptTimeoutError || err instanceof APIConnectionTimeoutError) {
    return noResponse('timeout', 'timeout_error', err.message);
  }
  if (err instanceof APIConnectionError) {
    const cause = (err as { cause?: { message?: string } }).cause?.message;
    return noResponse('network_error', 'network_error', cause ? `${err.message}: ${cause}` : err.message);
  }
  if (err instanceof APIError) {
    const headers = (err.headers as Headers | undefined) ?? null;
    const errorType = err.type ?? (err.status === undefined ? 'api_error' : `http_${err.status}`);
    const errorCode = err.errorCode ?? null;
    const message = err.apiMessage ?? err.message;
    const common = {
      statusCode: err.status ?? null,
      errorType,
      errorCode,
      retryAfterMs: parseRetryAfter(headers),
      message,
      requestId: err.requestID ?? headers?.get('request-id') ?? null,
      signals: headers === null ? null : parseRateLimitHeaders(headers, speed),
    };
    if (err.status === undefined) {
      const row = own(byStreamErrorType, errorType) ?? {
        outcome: 'server_error',
        retry: true,
        reason: 'server_error',
      };
      return { ...common, ...row, spendLimit: false };
    }
    if (err.status === 429 && errorCode !== null && spendLimitCodes.has(errorCode)) {
      return { ...common, outcome: 'rate_limited', retry: false, reason: 'spend_limit', spendLimit: true };
    }
    return { ...common, ...rowFor(err.status), spendLimit: false };
  }
  // Not from the SDK: a socket error that escaped its wrapping, or a bug. Retrying is bounded by maxAttempts.
  return noResponse('network_error', 'network_error', err instanceof Error ? err.message : String(err));
}

/**
 * An `errored` result of a Message Batch, classified as a mid-stream error of its type: worth another
 * try when overloaded, rate limited, a server error or a timeout; any other would fail the same way.
 */
export function classifyBatchError(errorType: string, message: string): Decision {
  const row = own(byStreamErrorType, errorType) ?? {
    outcome: 'client_error',
    retry: false,
    reason: 'client_error',
  };
  return {
    ...row,
    statusCode: null,
    errorType,
    errorCode: null,
    spendLimit: false,
    retryAfterMs: null,
    message,
    requestId: null,
    signals: null,
  };
}

/** No HTTP answer arrived (timeout, connection error): always worth another attempt. */
function noResponse(outcome: 'timeout' | 'network_error', errorType: string, message: string): Decision {
  return {
    outcome,
    retry: true,
    reason: outcome,
    statusCode: null,
    errorType,
    errorCode: null,
    spendLimit: false,
    retryAfterMs: null,
    message,
    requestId: null,
    signals: null,
  };
}
