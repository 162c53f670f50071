/**
 * How long a job waits before its next attempt: what the provider asked for, or promptq's jittered
 * exponential backoff. The same for every provider: a {@link Decision} is provider-neutral.
 */
import { defaults } from '../core/defaults.js';
import type { BackoffPolicy } from '../core/settings.js';
import type { Decision } from '../providers/provider.js';

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
