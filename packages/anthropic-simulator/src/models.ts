/**
 * Per-model facts the simulator needs: which rate-limit group a model belongs to, its output cap
 * and its minimum cacheable prompt length. Values follow Anthropic's published model tables.
 */

/**
 * The rate-limit group of a model: Anthropic enforces limits per model class, so all Sonnet
 * versions share one set of buckets. Recognises `opus`, `sonnet`, `haiku` (and the newer `fable`
 * and `mythos` families the SDK lists); falls back to the model name for anything else.
 */
export function defaultGroupOf(model: string): string {
  const family = /(opus|sonnet|haiku|fable|mythos)/i.exec(model);
  return family?.[1] ? family[1].toLowerCase() : model;
}

/** The models `GET /v1/models` lists: the current catalogue, each with a published price. */
export const SERVED_MODELS = [
  { id: 'claude-opus-4-5', display_name: 'Claude Opus 4.5', created_at: '2025-11-24T00:00:00Z' },
  { id: 'claude-sonnet-4-5', display_name: 'Claude Sonnet 4.5', created_at: '2025-09-29T00:00:00Z' },
  { id: 'claude-haiku-4-5', display_name: 'Claude Haiku 4.5', created_at: '2025-10-15T00:00:00Z' },
  { id: 'claude-opus-4-1', display_name: 'Claude Opus 4.1', created_at: '2025-08-05T00:00:00Z' },
] as const;

/** Retired models: the real API answers 404 `not_found_error` for them. */
export const RETIRED_MODELS: ReadonlySet<string> = new Set([
  'claude-2.0',
  'claude-2.1',
  'claude-instant-1.2',
  'claude-3-sonnet-20240229',
  'claude-3-5-sonnet-20240620',
]);

/**
 * Whether the simulator serves this model: any `claude-*` name (so tests may name any model) but
 * the retired ones; the real API answers 404 `not_found_error` otherwise.
 */
export function isKnownModel(model: string): boolean {
  return /^claude-[a-z0-9][a-z0-9.-]*$/i.test(model) && !RETIRED_MODELS.has(model);
}

/** The largest `max_tokens` the model accepts. */
export function defaultMaxOutputTokens(model: string): number {
  if (/claude-3-haiku|claude-3-opus|claude-3-sonnet/.test(model)) return 4_096;
  if (/claude-3-5-(haiku|sonnet)/.test(model)) return 8_192;
  if (/claude-opus-4-(0|1)|claude-opus-4-2025/.test(model) || model === 'claude-opus-4') return 32_000;
  return 64_000;
}

/** The shortest prefix (in tokens) that a `cache_control` breakpoint actually caches. */
export function defaultCacheMinTokens(model: string): number {
  if (/claude-haiku-4|claude-opus-4-5/.test(model)) return 4_096;
  if (/haiku/.test(model)) return 2_048;
  return 1_024;
}
