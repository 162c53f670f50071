/**
 * Facts about model names. (The simulator package keeps its own copy of the family rule in
 * packages/anthropic-simulator/src/models.ts: it stands alone and imports nothing from promptq.)
 */

const family = /(opus|sonnet|haiku|fable|mythos)/i;

/** The group of every model whose name has no known family. */
export const otherModelGroup = 'other';

/**
 * The model group whose rate limits are shared: Anthropic enforces limits per model class, so
 * every Sonnet version draws from one allowance. The family in the name (`opus`, `sonnet`, `haiku`,
 * …, any case, reported in lower case), else `other`: one group for every unknown name, so that
 * made-up model names cannot make limiter state (and metrics labels) without bound.
 */
export function modelGroup(model: string): string {
  return family.exec(model)?.[1]?.toLowerCase() ?? otherModelGroup;
}

/**
 * Whether cache reads count toward the input-tokens-per-minute limit. On current models they do not
 * (only uncached input and cache writes count); on some older ones they do.
 */
export function cacheReadsCountTowardItpm(model: string): boolean {
  return /claude-3-(haiku|opus|sonnet)|claude-3-5-haiku|claude-3-5-sonnet/.test(model);
}
