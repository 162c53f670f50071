import type { ContentPlan } from './content-plan.js';
import type { SimMessage, SimUsage } from './message-types.js';
import type { CacheUsage } from './prompt-cache.js';

/** The tier that answered (`usage.service_tier`). */
export type ServiceTier = 'standard' | 'priority' | 'batch';

/** Output tokens spent in thinking blocks (what `usage.output_tokens_details` reports). */
export function thinkingTokens(plan: ContentPlan): number {
  let n = 0;
  for (const b of plan.blocks) if (b.final.type === 'thinking') for (const d of b.deltas) n += d.tokens;
  return n;
}

/** The usage object exactly as the real API shapes it; `plan` null: `message_start`'s. */
export function usageBody(
  usage: CacheUsage,
  outputTokens: number,
  plan: ContentPlan | null = null,
  serviceTier: ServiceTier = 'standard',
  speed: 'standard' | 'fast' = 'standard',
): SimUsage {
  return {
    input_tokens: usage.inputTokens,
    cache_creation_input_tokens: usage.cacheCreationInputTokens,
    cache_read_input_tokens: usage.cacheReadInputTokens,
    cache_creation: {
      ephemeral_5m_input_tokens: usage.ephemeral5mInputTokens,
      ephemeral_1h_input_tokens: usage.ephemeral1hInputTokens,
    },
    output_tokens: outputTokens,
    output_tokens_details: plan === null ? null : { thinking_tokens: thinkingTokens(plan) },
    server_tool_use: plan?.serverToolUse ?? null,
    service_tier: serviceTier,
    inference_geo: 'global',
    speed,
  };
}

/** A `message` object; `plan` null gives the empty-content shape of `message_start`. */
export function messageBody(
  id: string,
  model: string,
  plan: ContentPlan | null,
  usage: CacheUsage,
  outputTokens: number,
  serviceTier: ServiceTier = 'standard',
  speed: 'standard' | 'fast' = 'standard',
): SimMessage {
  return {
    id,
    type: 'message',
    role: 'assistant',
    model,
    content: plan === null ? [] : plan.blocks.map((b) => b.final),
    stop_reason: plan?.stopReason ?? null,
    stop_sequence: plan?.stopSequence ?? null,
    stop_details: null,
    container: null,
    diagnostics: null,
    usage: usageBody(usage, outputTokens, plan, serviceTier, speed),
  };
}
