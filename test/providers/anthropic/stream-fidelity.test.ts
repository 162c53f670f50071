/**
 * The exact result: a streamed attempt (the SDK's stream helper, as the worker runs it through the
 * Anthropic provider) returns the same message as the non-streaming API for every block type. Two
 * simulators with the same seed generate the same answer; one is asked without streaming, the other
 * through the provider's `stream`.
 */
import Anthropic from '@anthropic-ai/sdk';
import { describe, expect, it } from 'vitest';
import { startSimulator } from '../../../packages/anthropic-simulator/src/index.js';
import { validateJob } from '../../../src/core/job.js';
import { AnthropicProvider } from '../../../src/providers/anthropic/provider.js';
import { apiParams } from '../../../src/providers/anthropic/stream.js';
import { jobKinds } from '../../helpers/job-kinds.js';

/** Opaque values differ between two generations (ids, signatures): the shape and text must not. */
function normalized(message: Anthropic.Message): unknown {
  return JSON.parse(
    JSON.stringify(message, function (this: Record<string, unknown>, key, value) {
      const opaque =
        ['id', 'tool_use_id', 'signature', 'encrypted_content'].includes(key) ||
        (key === 'data' && this.type === 'redacted_thinking');
      return opaque && typeof value === 'string' ? `<${key}>` : value;
    }),
  );
}

describe('streamed results equal non-streamed results, per block type', () => {
  it.each(Object.keys(jobKinds))('%s', async (kind) => {
    const { request } = validateJob(jobKinds[kind]);
    const [a, b] = await Promise.all([startSimulator({ seed: 5 }), startSimulator({ seed: 5 })]);
    try {
      const plain = new Anthropic({ apiKey: 'k', baseURL: a.url, maxRetries: 0 });
      const { stream: _s, ...params } = apiParams(request);
      const direct = await plain.messages.create({ ...params, stream: false });
      const provider = new AnthropicProvider({
        client: new Anthropic({ apiKey: 'k', baseURL: b.url, maxRetries: 0 }),
      });
      const streamed = await provider.stream({ request, model: request.model, timeoutMs: 10_000 });
      expect(normalized(streamed.message)).toEqual(normalized(direct));
      for (const block of streamed.message.content) {
        if (block.type === 'thinking') expect(block.signature.length).toBeGreaterThan(20);
        if (block.type === 'tool_use')
          expect(Object.keys(block).sort()).toEqual(['caller', 'id', 'input', 'name', 'type']);
      }
      const types = streamed.message.content.map((c) => c.type);
      const expected: Record<string, string[]> = {
        'forced tool choice': ['tool_use'],
        'extended thinking': ['thinking', 'text'],
        'redacted thinking (the API test string)': ['thinking', 'redacted_thinking', 'text'],
        'server tool (web search)': ['server_tool_use', 'web_search_tool_result', 'text'],
      };
      expect(types).toEqual(expected[kind] ?? ['text']);
      if (kind === 'forced tool choice') {
        expect(streamed.message.stop_reason).toBe('tool_use');
        const input = (streamed.message.content[0] as Anthropic.ToolUseBlock).input as Record<
          string,
          unknown
        >;
        expect(Object.keys(input).sort()).toEqual(['city', 'days', 'metric']);
        expect(typeof input.city).toBe('string');
        expect(Number.isInteger(input.days) && (input.days as number) >= 1).toBe(true);
        expect(typeof input.metric).toBe('boolean');
      }
      if (kind.includes('citations')) {
        const text = streamed.message.content[0] as Anthropic.TextBlock;
        expect(text.citations?.[0]?.type).toBe(kind.startsWith('PDF') ? 'page_location' : 'char_location');
      }
      if (kind === 'server tool (web search)') {
        expect(streamed.message.usage.server_tool_use?.web_search_requests).toBe(1);
      }
    } finally {
      await Promise.all([a.close(), b.close()]);
    }
  });
});
