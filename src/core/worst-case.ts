/**
 * The most a call can cost before it is made: what a tenant's budget holds for it, on the live route
 * (worker/budget.ts) and through Message Batches (producer/backfill/batch-budget.ts) alike.
 */
import type { JobRequest } from './job.js';
import { contextWindowTokens, maxInputTokens } from './tokens.js';

/** What a call may use at most, for {@link WorstCasePricing.worstCase}. */
export interface WorstCaseCall {
  /** An upper bound of its input tokens ({@link maxInputTokens}). */
  inputTokens: number;
  maxTokens: number;
  /** Web searches it may run (counted on top of `serverToolUses`). */
  webSearches?: number;
  /** Server-tool uses it may make, by the usage field that counts them (`web_search_requests`, …). */
  serverToolUses?: Record<string, number>;
  /** The request's `service_tier`: anything but `standard_only` may be answered at `priority`. */
  serviceTier?: string | undefined;
  /** The request's `speed`: `fast` is priced at the model's fast-mode multiplier. */
  speed?: string | undefined;
}

/** The price list's worst case of one call on one model (providers/provider.ts `Pricing`). */
export interface WorstCasePricing {
  worstCase(model: string, call: WorstCaseCall, options?: { batch?: boolean }): number | null;
}

/**
 * The worst case of a call that any of several accounts may serve: per model, the dearest of the
 * accounts that serve it (`accountsOf(model)`), so a regional premium cannot escape a budget; the
 * `fallback` prices when none does (the call then fails unserved, and costs nothing).
 */
export function dearestPricing(
  accountsOf: (model: string) => readonly WorstCasePricing[],
  fallback: WorstCasePricing,
): WorstCasePricing {
  return {
    worstCase(model, call, options) {
      const accounts = accountsOf(model);
      if (accounts.length === 0) return fallback.worstCase(model, call, options);
      let worst = 0;
      for (const prices of accounts) {
        const usd = prices.worstCase(model, call, options);
        if (usd === null) return null;
        worst = Math.max(worst, usd);
      }
      return worst;
    },
  };
}

/** What a call may cost at most, or why that cannot be told. */
export type WorstCase =
  | { kind: 'priced'; usd: number; model: string }
  /** Its worst case has no price (a model off the price list, a server tool with no use bound). */
  | { kind: 'unpriced'; what: string };

/** The input tokens one web search may add (its results are billed as input); an assumption. */
export const webSearchInputTokens = 10_000;

/**
 * The most a call can cost ({@link Pricing.worstCase}): an upper bound of its input
 * ({@link maxInputTokens}) at the dearest input rate (a 1-hour cache write), all of `max_tokens`
 * as output, the long-context step and the service tier that may answer, and every server-tool use
 * its tools allow (their fees and what their results add to the input) — on the dearest of `model`
 * and `fallback_models`, since any of them may serve it. `unpriced` when any of those models has no
 * price, or a server tool has no `max_uses`: such a call is never held at 0.
 */
export function worstCaseCost(
  request: JobRequest,
  prices: WorstCasePricing,
  options: { batch?: boolean } = {},
): WorstCase {
  const tools = serverToolBound(request.tools);
  if (tools.unbounded !== undefined) return { kind: 'unpriced', what: tools.unbounded };
  const call = {
    inputTokens: maxInputTokens(request) + tools.inputTokens,
    maxTokens: request.max_tokens,
    serverToolUses: tools.uses,
    serviceTier: request.service_tier,
    speed: request.speed,
  };
  let worst: WorstCase = { kind: 'priced', usd: 0, model: request.model };
  for (const model of [request.model, ...(request.fallback_models ?? [])]) {
    const usd = prices.worstCase(model, call, options);
    if (usd === null) return { kind: 'unpriced', what: `model ${JSON.stringify(model)} has no known price` };
    if (usd > worst.usd) worst = { kind: 'priced', usd, model };
  }
  return worst;
}

/** Server tools' uses (by usage field) and the input their results may add; or which is unbounded. */
function serverToolBound(tools: JobRequest['tools']): {
  uses: Record<string, number>;
  inputTokens: number;
  unbounded?: string;
} {
  const uses: Record<string, number> = {};
  let inputTokens = 0;
  for (const tool of tools ?? []) {
    const type = typeof tool.type === 'string' ? tool.type : '';
    const kind = /^web_search_/.test(type) ? 'search' : /^web_fetch_/.test(type) ? 'fetch' : undefined;
    if (kind === undefined) continue;
    const max = tool.max_uses;
    if (typeof max !== 'number' || !Number.isInteger(max) || max < 0) {
      return { uses, inputTokens, unbounded: `server tool ${JSON.stringify(type)} has no max_uses` };
    }
    const field = kind === 'search' ? 'web_search_requests' : 'web_fetch_requests';
    uses[field] = (uses[field] ?? 0) + max;
    const perUse =
      kind === 'search'
        ? webSearchInputTokens
        : typeof tool.max_content_tokens === 'number'
          ? tool.max_content_tokens
          : contextWindowTokens;
    inputTokens += max * perUse;
  }
  return { uses, inputTokens };
}
