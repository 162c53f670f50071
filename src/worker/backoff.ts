/**
 * How long a job waits before its next attempt: what the provider asked for, or promptq's jittered
 * exponential backoff. The same for every provider: a {@link Decision} is provider-neutral.
 */
import { defaults } from '../core/defaults.js';
import type { Decision } from '../providers/provider.js';

/** Backoff tuning (see `PROMPTQ_RETRY_BASE_MS`, `PROMPTQ_RETRY_MAX_MS`). */
export interface BackoffPolicy {
  /** First retry waits about this long (overloads twice as long, network and 5xx half). @defaultValue 1000 */
  baseMs: number;
  /** No backoff grows past this. @defaultValue 60000 */
  maxMs: number;
}

export const defaultBackoff: BackoffPolicy = { baseMs: defaults.retryBaseMs, maxMs: defaults.retryMaxMs };

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
    return decision.retryAfterMs + Math.floor(random() * defaults.retryAfterJitterMs);
  }
  const factor = decision.outcome === 'overloaded' ? 2 : decision.outcome === 'rate_limited' ? 1 : 0.5;
  const exp = Math.min(policy.maxMs, policy.baseMs * factor * 2 ** Math.max(0, retryNumber - 1));
  // "Equal jitter": half fixed, half random, so the delay never collapses to ~0.
  return Math.floor(exp / 2 + random() * (exp / 2));
}
