/**
 * Simulator answers are valid current SDK `Message` objects (issue 25.8). Type level: the
 * simulator's own answer types (packages/anthropic-simulator/src/message-types.ts, which its
 * answer builders return) are assigned to the installed SDK's types in sdk-message-types.ts, so
 * `npm run typecheck` fails when the SDK's `Message` requires a field the simulator leaves out (`usage.inference_geo`,
 * `usage.output_tokens_details`, `usage.speed`, `caller` on tool blocks, `diagnostics`, …). Run
 * time: what the simulator serves through the SDK has every key the SDK's types require.
 */
import Anthropic from '@anthropic-ai/sdk';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  REDACTED_THINKING_TRIGGER,
  type Simulator,
  startSimulator,
} from '../../packages/anthropic-simulator/src/index.js';

/** Every key of a Message and of its usage that the SDK's type requires (none optional there). */
const messageKeys: Array<keyof Anthropic.Message> = [
  'id',
  'type',
  'role',
  'model',
  'content',
  'stop_reason',
  'stop_sequence',
  'stop_details',
  'container',
  'diagnostics',
  'usage',
];
const usageKeys: Array<keyof Anthropic.Usage> = [
  'input_tokens',
  'output_tokens',
  'cache_creation',
  'cache_creation_input_tokens',
  'cache_read_input_tokens',
  'inference_geo',
  'output_tokens_details',
  'server_tool_use',
  'service_tier',
  'speed',
];

describe('simulator answers are the SDK’s current Message', () => {
  let sim: Simulator;
  let client: Anthropic;
  beforeAll(async () => {
    sim = await startSimulator({ seed: 3 });
    client = new Anthropic({ apiKey: 'sk-ant-test', baseURL: sim.url, maxRetries: 0 });
  });
  afterAll(() => sim?.close());

  const tools: Anthropic.ToolUnion[] = [
    {
      name: 'lookup',
      input_schema: { type: 'object', properties: { q: { type: 'string' } }, required: ['q'] },
    },
    { type: 'web_search_20250305', name: 'web_search' },
  ];

  it('streamed and not: every key the SDK requires, `caller` on tool blocks, thinking counted in output_tokens_details', async () => {
    const body: Anthropic.MessageCreateParamsNonStreaming = {
      model: 'claude-sonnet-4-6',
      max_tokens: 2000,
      thinking: { type: 'enabled', budget_tokens: 1024 },
      messages: [{ role: 'user', content: `Search, then think. ${REDACTED_THINKING_TRIGGER}` }],
      tools,
    };
    const plain = await client.messages.create(body);
    const streamed = await client.messages.stream(body).finalMessage();
    const forced = await client.messages.create({
      model: 'claude-sonnet-4-6',
      max_tokens: 500,
      messages: [{ role: 'user', content: 'Look it up.' }],
      tools,
      tool_choice: { type: 'tool', name: 'lookup' },
    });
    for (const m of [plain, streamed, forced]) {
      // (The SDK's stream helper adds its own `parsed_output`.)
      expect(Object.keys(m)).toEqual(expect.arrayContaining(messageKeys));
      expect(Object.keys(m.usage)).toEqual(expect.arrayContaining(usageKeys));
      for (const b of m.content) {
        if (b.type === 'tool_use' || b.type === 'server_tool_use' || b.type === 'web_search_tool_result')
          expect(b.caller, b.type).toEqual({ type: 'direct' });
        if (b.type === 'text') expect(b).toHaveProperty('citations');
      }
    }
    expect(plain.content.map((b) => b.type)).toEqual(
      expect.arrayContaining([
        'thinking',
        'redacted_thinking',
        'server_tool_use',
        'web_search_tool_result',
        'text',
      ]),
    );
    expect(forced.content.map((b) => b.type)).toEqual(['tool_use']);
    const thinking = plain.usage.output_tokens_details?.thinking_tokens ?? 0;
    expect(thinking).toBeGreaterThan(0);
    expect(thinking).toBeLessThan(plain.usage.output_tokens);
    expect(forced.usage.output_tokens_details).toEqual({ thinking_tokens: 0 });
    expect(plain.usage.server_tool_use).toEqual({ web_search_requests: 1, web_fetch_requests: 0 });
  });
});
