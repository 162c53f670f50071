import type { ContentPlan } from './content-plan.js';
import type { CacheUsage } from './prompt-cache.js';

/** The tier that answered (`usage.service_tier`). */
export type ServiceTier = 'standard' | 'priority' | 'batch';

/** The usage object exactly as the real API shapes it. */
export function usageBody(
  usage: CacheUsage,
  outputTokens: number,
  serverToolUse: ContentPlan['serverToolUse'] = null,
  serviceTier: ServiceTier = 'standard',
) {
  return {
    input_tokens: usage.inputTokens,
    cache_creation_input_tokens: usage.cacheCreationInputTokens,
    cache_read_input_tokens: usage.cacheReadInputTokens,
    cache_creation: {
      ephemeral_5m_input_tokens: usage.ephemeral5mInputTokens,
      ephemeral_1h_input_tokens: usage.ephemeral1hInputTokens,
    },
    output_tokens: outputTokens,
    server_tool_use: serverToolUse,
    service_tier: serviceTier,
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
) {
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
    usage: usageBody(usage, outputTokens, plan?.serverToolUse ?? null, serviceTier),
  };
}
