/**
 * `anthropic-ratelimit-*` response headers → a typed snapshot. Missing or garbage values are left
 * out rather than guessed, so callers can tell "no information" from "zero left".
 */

import { type AnnouncedResource, announcedResources } from '../core/rate-limits.js';

export interface BucketHeader {
  limit: number | undefined;
  remaining: number | undefined;
  /** Epoch ms when the bucket is fully replenished (RFC 3339 in the header). */
  resetAt: number | undefined;
}

/** Per announced resource (`tokens` too: input and output together), what its headers said. */
export type RateLimitSnapshot = Partial<Record<AnnouncedResource, BucketHeader>>;

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

/** Parse the rate-limit headers of one response. */
export function parseRateLimitHeaders(headers: Headers | null | undefined): RateLimitSnapshot {
  const out: RateLimitSnapshot = {};
  if (!headers) return out;
  for (const r of announcedResources) {
    const p = `anthropic-ratelimit-${headerName[r]}-`;
    const b: BucketHeader = {
      limit: nonNegativeInt(headers.get(`${p}limit`)),
      remaining: nonNegativeInt(headers.get(`${p}remaining`)),
      resetAt: rfc3339(headers.get(`${p}reset`)),
    };
    if (b.limit !== undefined || b.remaining !== undefined || b.resetAt !== undefined) out[r] = b;
  }
  return out;
}
