/**
 * Error → retry decision, in one table. Every API attempt that fails goes through
 * {@link classifyError}; the worker only acts on the decision.
 */

import { APIConnectionError, APIConnectionTimeoutError, APIError } from '@anthropic-ai/sdk';
import { defaults } from '../../core/defaults.js';
import { own } from '../../core/dict.js';
import { PromptqError } from '../../core/errors.js';
import type { BackoffPolicy } from '../../core/settings.js';

/** The `outcome` label of `promptq_requests_total` (docs/reference/metrics.md). */
export type Outcome =
  | 'success'
  | 'rate_limited'
  | 'overloaded'
  | 'server_error'
  | 'client_error'
  | 'network_error'
  | 'timeout';

export interface Decision {
  outcome: Exclude<Outcome, 'success'>;
  /** Try again (after `retryAfterMs` if the API said so, else backoff)? */
  retry: boolean;
  /** Retry reason (label of `promptq_retries_total`, key of `record.retries`). */
  reason: string;
  /** HTTP status, `null` when no response arrived (network, timeout, mid-stream error). */
  statusCode: number | null;
  /** The API's `error.type`, or ours (`network_error`, `timeout_error`). */
  errorType: string;
  /** `error.details.error_code` when the API sent one. */
  errorCode: string | null;
  /** A spend limit is reached: retrying will not help until someone raises it. */
  spendLimit: boolean;
  /** From `retry-after-ms` / `retry-after`, when present. */
  retryAfterMs: number | null;
  message: string;
  requestId: string | null;
  headers: Headers | null;
}

/** A request that took longer than the configured per-attempt timeout (raised by the attempt runner). */
export class AttemptTimeoutError extends PromptqError {
  override readonly name = 'AttemptTimeoutError';
  constructor(readonly timeoutMs: number) {
    super(`request timed out after ${timeoutMs} ms`, { code: 'attempt_timeout' });
  }
}

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

/** Classify anything an attempt threw. */
export function classifyError(err: unknown): Decision {
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
      headers,
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
    headers: null,
  };
}

export type { BackoffPolicy };

/** The backoff of a configuration that sets none (`defaults.worker.backoff`). */
export const defaultBackoff: BackoffPolicy = defaults.worker.backoff;

/**
 * Delay before the next attempt: the API's `retry-after` when given (plus a little jitter so that
 * many workers do not return in the same millisecond), else jittered exponential backoff.
 */
export function backoffMs(
  decision: Decision,
  retryNumber: number,
  random: () => number = Math.random,
  policy: BackoffPolicy = defaultBackoff,
): number {
  if (decision.retryAfterMs !== null) {
    return decision.retryAfterMs + Math.floor(random() * policy.retryAfterJitterMs);
  }
  const factor = decision.outcome === 'overloaded' ? 2 : decision.outcome === 'rate_limited' ? 1 : 0.5;
  const exp = Math.min(policy.maxMs, policy.baseMs * factor * 2 ** Math.max(0, retryNumber - 1));
  // "Equal jitter": half fixed, half random, so the delay never collapses to ~0.
  return Math.floor(exp / 2 + random() * (exp / 2));
}
