/**
 * The exact result: a streamed attempt (the SDK's stream helper, as the worker runs it) returns the
 * same message as the non-streaming API for every block type. Two simulators with the same seed
 * generate the same answer; one is asked without streaming, the other through `runAttempt`.
 */
import Anthropic from '@anthropic-ai/sdk';
import { describe, expect, it } from 'vitest';
import { startSimulator } from '../../packages/anthropic-simulator/src/index.js';
import { validateJob } from '../../src/core/job.js';
import { apiParams, runAttempt } from '../../src/worker/attempt.js';

const pdf = Buffer.from('%PDF-1.4\n1 0 obj << /Type /Page >> endobj\n%%EOF').toString('base64');
const png =
  'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==';
const weatherTool = {
  name: 'get_weather',
  description: 'Weather for a city',
  input_schema: {
    type: 'object',
    properties: {
      city: { type: 'string' },
      days: { type: 'integer', minimum: 1 },
      metric: { type: 'boolean' },
    },
    required: ['city', 'days', 'metric'],
  },
};

/** The job kinds of issue 11, each as a job body. */
export const jobKinds: Record<string, Record<string, unknown>> = {
  'plain text': { model: 'claude-haiku-4-5', max_tokens: 60, prompt: 'Hello' },
  'forced tool choice': {
    model: 'claude-sonnet-4-5',
    max_tokens: 300,
    tools: [weatherTool],
    tool_choice: { type: 'tool', name: 'get_weather' },
    prompt: 'Weather in Paris?',
  },
  'extended thinking': {
    model: 'claude-sonnet-4-5',
    max_tokens: 2000,
    thinking: { type: 'enabled', budget_tokens: 1024 },
    prompt: 'Think it through.',
  },
  'image input': {
    model: 'claude-haiku-4-5',
    max_tokens: 80,
    messages: [
      {
        role: 'user',
        content: [
          { type: 'image', source: { type: 'base64', media_type: 'image/png', data: png } },
          { type: 'text', text: 'What is this?' },
        ],
      },
    ],
  },
  'PDF with citations': {
    model: 'claude-sonnet-4-5',
    max_tokens: 120,
    messages: [
      {
        role: 'user',
        content: [
          {
            type: 'document',
            source: { type: 'base64', media_type: 'application/pdf', data: pdf },
            title: 'Report',
            citations: { enabled: true },
          },
          { type: 'text', text: 'Summarize, with citations.' },
        ],
      },
    ],
  },
  'text document with citations': {
    model: 'claude-haiku-4-5',
    max_tokens: 120,
    messages: [
      {
        role: 'user',
        content: [
          {
            type: 'document',
            source: { type: 'text', media_type: 'text/plain', data: 'The grass is green. The sky is blue.' },
            citations: { enabled: true },
          },
          { type: 'text', text: 'What colour is the grass?' },
        ],
      },
    ],
  },
  '1-hour cached system prompt': {
    model: 'claude-haiku-4-5',
    max_tokens: 60,
    system: [{ type: 'text', text: 'queue '.repeat(6000), cache_control: { type: 'ephemeral', ttl: '1h' } }],
    prompt: 'Hi',
  },
  'multi-turn with tool results': {
    model: 'claude-sonnet-4-5',
    max_tokens: 200,
    tools: [weatherTool],
    messages: [
      { role: 'user', content: 'Weather in Paris?' },
      {
        role: 'assistant',
        content: [
          {
            type: 'tool_use',
            id: 'toolu_01',
            name: 'get_weather',
            input: { city: 'Paris', days: 1, metric: true },
          },
        ],
      },
      { role: 'user', content: [{ type: 'tool_result', tool_use_id: 'toolu_01', content: '18°C, sunny' }] },
    ],
  },
  'server tool (web search)': {
    model: 'claude-sonnet-4-5',
    max_tokens: 200,
    tools: [{ type: 'web_search_20250305', name: 'web_search', max_uses: 2 }],
    prompt: 'What is new?',
  },
};

/** Opaque values differ between two generations (ids, signatures): the shape and text must not. */
function normalized(message: Anthropic.Message): unknown {
  return JSON.parse(
    JSON.stringify(message, (key, value) =>
      ['id', 'tool_use_id', 'signature', 'encrypted_content'].includes(key) && typeof value === 'string'
        ? `<${key}>`
        : value,
    ),
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
      const streamed = await runAttempt(
        new Anthropic({ apiKey: 'k', baseURL: b.url, maxRetries: 0 }),
        request,
        10_000,
      );
      expect(normalized(streamed.message)).toEqual(normalized(direct));
      for (const block of streamed.message.content) {
        if (block.type === 'thinking') expect(block.signature.length).toBeGreaterThan(20);
        if (block.type === 'tool_use')
          expect(Object.keys(block).sort()).toEqual(['id', 'input', 'name', 'type']);
      }
      const types = streamed.message.content.map((c) => c.type);
      const expected: Record<string, string[]> = {
        'forced tool choice': ['tool_use'],
        'extended thinking': ['thinking', 'text'],
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
