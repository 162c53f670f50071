/**
 * Prices per provider where they differ from the Anthropic API's: a regional endpoint of Bedrock
 * (no `global` inference profile) or Vertex AI (a region other than `global`) costs 10% more than
 * the global one for Claude Sonnet 4.5 and every model after it; the models before it keep their
 * one price (Anthropic's pricing page, third-party platform pricing:
 * https://docs.claude.com/en/docs/about-claude/pricing; Vertex AI's "global and regional endpoints":
 * https://docs.claude.com/en/docs/build-with-claude/claude-on-vertex-ai). The Anthropic price list
 * (anthropic/prices.json) stays the one source of the base prices.
 */
import type { CallCost, PriceOptions, Pricing, Usage } from './provider.js';

/** Retrieved 2026-12-07. */
const prices = {
  regional_premium: {
    factor: 1.1,
    /** The models before Claude Sonnet 4.5 (aliases without a date): no regional premium. */
    before: [
      'claude-opus-4-1',
      'claude-opus-4-0',
      'claude-opus-4',
      'claude-sonnet-4-0',
      'claude-sonnet-4',
      'claude-3-7-sonnet',
      'claude-3-5-sonnet',
      'claude-3-5-haiku',
      'claude-3-opus',
      'claude-3-sonnet',
      'claude-3-haiku',
    ],
  },
} as const;

/** The model's alias without a date (`claude-sonnet-4-5-20250929` → `claude-sonnet-4-5`). */
function alias(model: string): string {
  return model.replace(/-(\d{8}|latest)$/, '');
}

/** A price list with every part of a call's price scaled, but for the models exempt. */
class ScaledPricing implements Pricing {
  constructor(
    readonly base: Pricing,
    readonly factor: number,
    readonly exempt: ReadonlySet<string>,
  ) {}

  #factorOf(model: string): number {
    return this.exempt.has(alias(model)) ? 1 : this.factor;
  }

  priceCall(usage: Usage, model: string, options?: PriceOptions): CallCost | null {
    const cost = this.base.priceCall(usage, model, options);
    const f = this.#factorOf(model);
    if (cost === null || f === 1) return cost;
    return {
      ...cost,
      input: cost.input * f,
      output: cost.output * f,
      cache_write_5m: cost.cache_write_5m * f,
      cache_write_1h: cost.cache_write_1h * f,
      cache_read: cost.cache_read * f,
      total: (cost.total - cost.server_tools) * f + cost.server_tools,
    };
  }

  worstCase(
    model: string,
    call: { inputTokens: number; maxTokens: number; webSearches?: number },
    options?: PriceOptions,
  ): number | null {
    const base = this.base.worstCase(model, call, options);
    return base === null ? null : base * this.#factorOf(model);
  }
}

/** Prices of a regional endpoint (`regional`), or the base prices of a global one. */
export function endpointPricing(base: Pricing, regional: boolean): Pricing {
  if (!regional) return base;
  const premium = prices.regional_premium;
  return new ScaledPricing(base, premium.factor, new Set(premium.before));
}
