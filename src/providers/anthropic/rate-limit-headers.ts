/**
 * Anthropic's rate-limit signals: its `anthropic-ratelimit-*` (and, for fast calls,
 * `anthropic-fast-*`) response headers → the
 * {@link RateLimitSignals} the limiter learns from. Missing or garbage values are left out rather
 * than guessed, so the limiter can tell "no information" from "zero left".
 */

import type { AnnouncedResource } from '../../core/rate-limits.js';
import { announcedResources } from '../../core/rate-limits.js';
import type { BucketSignal, RateLimitSignals } from '../provider.js';

const headerName: Record<AnnouncedResource, string> = {
  requests: 'requests',
  input_tokens: 'input-tokens',
  output_tokens: 'output-tokens',
  tokens: 'tokens',
};

function nonNegativeInt(v: string | null): number | undefined {
  if (v === null) return undefined;
  const s = v.trim();
  if (!/^\d+$/.test(s)) return undefined;
  const n = Number(s);
  return Number.isSafeInteger(n) ? n : undefined;
}

function rfc3339(v: string | null): number | undefined {
  if (v === null) return undefined;
  const s = v.trim();
  // RFC 3339 only: a full date, a time and a zone. Date.parse alone accepts far too much.
  if (!/^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$/.test(s)) return undefined;
  const t = Date.parse(s);
  return Number.isNaN(t) ? undefined : t;
}

/** A call's `speed`: `fast` calls have a bucket of their own (`anthropic-fast-*`). */
export type Speed = 'standard' | 'fast';

/** One bucket's `<prefix>limit`, `<prefix>remaining`, `<prefix>reset`; `undefined` when none is there. */
function bucketOf(headers: Headers, prefix: string): BucketSignal | undefined {
  const bucket: BucketSignal = {
    limit: nonNegativeInt(headers.get(`${prefix}limit`)),
    remaining: nonNegativeInt(headers.get(`${prefix}remaining`)),
    resetAt: rfc3339(headers.get(`${prefix}reset`)),
  };
  return bucket.limit !== undefined || bucket.remaining !== undefined || bucket.resetAt !== undefined
    ? bucket
    : undefined;
}

/**
 * Parse the rate-limit headers of one response (none: `{}`). A `speed: "fast"` call is limited by
 * the fast bucket, which the `anthropic-fast-input-tokens-*` and `anthropic-fast-output-tokens-*`
 * headers describe: they are its signals (the `anthropic-ratelimit-*` ones describe the standard
 * bucket, which a fast call does not draw from), and a fast answer announces no requests limit.
 */
export function parseRateLimitHeaders(
  headers: Headers | null | undefined,
  speed: Speed = 'standard',
): RateLimitSignals {
  const out: RateLimitSignals = {};
  if (!headers) return out;
  if (speed === 'fast') {
    for (const resource of ['input_tokens', 'output_tokens'] as const) {
      const bucket = bucketOf(headers, `anthropic-fast-${headerName[resource]}-`);
      if (bucket) out[resource] = bucket;
    }
    return out;
  }
  for (const resource of announcedResources) {
    const bucket = bucketOf(headers, `anthropic-ratelimit-${headerName[resource]}-`);
    if (bucket) out[resource] = bucket;
  }
  return out;
}
