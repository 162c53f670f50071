/**
 * Prices per provider where they differ from the Anthropic API's: a regional endpoint of Bedrock
 * (no `global` inference profile) or Vertex AI (a region other than `global`) costs 10% more than
 * the global one for the models from Claude Sonnet 4.5 and Haiku 4.5 on (Anthropic's pricing page,
 * third-party platform pricing: https://docs.claude.com/en/docs/about-claude/pricing). The Anthropic
 * price list (anthropic/prices.json) stays the one source of the base prices.
 */
import type { CallCost, PriceOptions, Pricing, Usage } from './provider.js';

/** Retrieved 2026-12-07. */
const prices = {
  regional_premium: {
    factor: 1.1,
    models: [
      'claude-sonnet-4-5',
      'claude-haiku-4-5',
      'claude-opus-4-5',
      'claude-sonnet-4-6',
      'claude-opus-4-6',
    ],
  },
} as const;

/** The model's alias without a date (`claude-sonnet-4-5-20250929` → `claude-sonnet-4-5`). */
function alias(model: string): string {
  return model.replace(/-\d{8}$/, '');
}

/** A price list with every part of a call's price scaled for the models listed. */
class ScaledPricing implements Pricing {
  constructor(
    readonly base: Pricing,
    readonly factor: number,
    readonly models: ReadonlySet<string>,
  ) {}

  #factorOf(model: string): number {
    return this.models.has(alias(model)) ? this.factor : 1;
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
  return new ScaledPricing(base, premium.factor, new Set(premium.models));
}
