/** What one resource's headers describe: the announced bucket as of now. */
export interface HeaderView {
  limit: number;
  /** Current level (may be fractional or negative). */
  level: number;
  /** Milliseconds until the bucket is full again. */
  msUntilFull: number;
}

/** The resources with their own headers, in header-name spelling. */
export type HeaderResource = 'requests' | 'input-tokens' | 'output-tokens';

/**
 * RFC 3339 in UTC with whole seconds (`2026-11-26T22:40:01Z`), as the real API sends. Rounded up so
 * a client that waits until `reset` finds the bucket full.
 */
export function rfc3339(ms: number): string {
  const whole = Math.ceil(ms / 1000) * 1000;
  return new Date(whole).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/** Token counts are rounded down to the nearest thousand in headers, as the real API does. */
export function roundTokensDown(level: number): number {
  return Math.max(0, Math.floor(level / 1000) * 1000);
}

/**
 * The `anthropic-fast-*` headers of a `speed: "fast"` call: its own bucket of input and output
 * tokens (the API announces no requests or combined tokens for it).
 */
export function fastRateLimitHeaders(
  views: Partial<Record<HeaderResource, HeaderView>>,
  now: number,
): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const name of ['input-tokens', 'output-tokens'] as const) {
    const view = views[name];
    if (!view) continue;
    headers[`anthropic-fast-${name}-limit`] = String(Math.round(view.limit));
    headers[`anthropic-fast-${name}-remaining`] = String(roundTokensDown(view.level));
    headers[`anthropic-fast-${name}-reset`] = rfc3339(now + view.msUntilFull);
  }
  return headers;
}

/**
 * The `anthropic-ratelimit-*` headers. Resources without a view (unlimited) get no headers; the
 * combined `tokens-*` headers describe the most restrictive of input and output (lower remaining).
 */
export function rateLimitHeaders(
  views: Partial<Record<HeaderResource, HeaderView>>,
  now: number,
): Record<string, string> {
  const headers: Record<string, string> = {};
  const put = (name: string, view: HeaderView, remaining: number) => {
    headers[`anthropic-ratelimit-${name}-limit`] = String(Math.round(view.limit));
    headers[`anthropic-ratelimit-${name}-remaining`] = String(remaining);
    headers[`anthropic-ratelimit-${name}-reset`] = rfc3339(now + view.msUntilFull);
  };
  if (views.requests) put('requests', views.requests, Math.max(0, Math.floor(views.requests.level)));
  const input = views['input-tokens'];
  const output = views['output-tokens'];
  if (input) put('input-tokens', input, roundTokensDown(input.level));
  if (output) put('output-tokens', output, roundTokensDown(output.level));
  const tightest = input && output ? (output.level < input.level ? output : input) : (input ?? output);
  if (tightest) put('tokens', tightest, roundTokensDown(tightest.level));
  return headers;
}
