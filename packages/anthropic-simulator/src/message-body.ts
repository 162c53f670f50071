import type { StopReason } from './output.js';
import type { CacheUsage } from './prompt-cache.js';

/** The usage object exactly as the real API shapes it. */
export function usageBody(usage: CacheUsage, outputTokens: number) {
  return {
    input_tokens: usage.inputTokens,
    cache_creation_input_tokens: usage.cacheCreationInputTokens,
    cache_read_input_tokens: usage.cacheReadInputTokens,
    cache_creation: {
      ephemeral_5m_input_tokens: usage.ephemeral5mInputTokens,
      ephemeral_1h_input_tokens: usage.ephemeral1hInputTokens,
    },
    output_tokens: outputTokens,
    service_tier: 'standard',
  };
}

/** A `message` object; `text` null gives the empty-content shape of `message_start`. */
export function messageBody(
  id: string,
  model: string,
  text: string | null,
  stop: { reason: StopReason; sequence: string | null } | null,
  usage: CacheUsage,
  outputTokens: number,
) {
  return {
    id,
    type: 'message',
    role: 'assistant',
    model,
    content: text === null ? [] : [{ type: 'text', text }],
    stop_reason: stop?.reason ?? null,
    stop_sequence: stop?.sequence ?? null,
    stop_details: null,
    container: null,
    usage: usageBody(usage, outputTokens),
  };
}
