import { describe, expect, it } from 'vitest';
import { ValidationError, validateJob } from '../../src/core/job.js';
import { jobJsonSchema } from '../../src/core/job-schema.js';

function problems(body: unknown): string[] {
  try {
    validateJob(body);
  } catch (err) {
    if (err instanceof ValidationError) return err.problems.map((p) => p.field);
    throw err;
  }
  return [];
}

describe('validateJob', () => {
  const ok = { model: 'claude-haiku-4-5', max_tokens: 100, prompt: 'hi' };

  it('turns a prompt into one user message and mirrors tenant_id into metadata.user_id', () => {
    const { request, id, priority } = validateJob({ ...ok, tenant_id: 'acme', id: 'job-1', priority: 3 });
    expect(request).toEqual({
      model: 'claude-haiku-4-5',
      max_tokens: 100,
      messages: [{ role: 'user', content: 'hi' }],
      tenant_id: 'acme',
      metadata: { user_id: 'acme' },
    });
    expect(id).toBe('job-1');
    expect(priority).toBe(3);
  });

  it('accepts Anthropic messages with content blocks, system, sampling and stop sequences', () => {
    const body = {
      model: 'claude-sonnet-4-5',
      max_tokens: 10,
      system: [{ type: 'text', text: 'be brief', cache_control: { type: 'ephemeral' } }],
      messages: [
        { role: 'user', content: [{ type: 'text', text: 'a' }] },
        { role: 'assistant', content: 'b' },
        { role: 'user', content: 'c' },
      ],
      temperature: 0.2,
      top_p: 0.9,
      stop_sequences: ['END'],
      metadata: { user_id: 'u1' },
    };
    const { request } = validateJob(body);
    expect(request.messages).toHaveLength(3);
    expect(request.metadata).toEqual({ user_id: 'u1' });
  });

  it('is idempotent: a validated request validates to itself', () => {
    const { request } = validateJob({ ...ok, tenant_id: 't' });
    expect(validateJob(request).request).toEqual(request);
  });

  it.each([
    [{ ...ok, model: 3 }, 'model'],
    [{ ...ok, model: '' }, 'model'],
    [{ ...ok, max_tokens: 0 }, 'max_tokens'],
    [{ ...ok, max_tokens: 1.5 }, 'max_tokens'],
    [{ ...ok, max_tokens: '100' }, 'max_tokens'],
    [{ ...ok, max_tokens: 10_000_000 }, 'max_tokens'],
    [{ model: 'm', max_tokens: 1 }, 'messages'],
    [{ ...ok, messages: [{ role: 'user', content: 'x' }] }, 'prompt'],
    [{ ...ok, prompt: '' }, 'prompt'],
    [{ model: 'm', max_tokens: 1, messages: [] }, 'messages'],
    [{ model: 'm', max_tokens: 1, messages: [{ role: 'bot', content: 'x' }] }, 'messages.0.role'],
    [{ model: 'm', max_tokens: 1, messages: [{ role: 'user', content: 5 }] }, 'messages.0.content'],
    [
      { model: 'm', max_tokens: 1, messages: [{ role: 'user', content: [{ text: 'x' }] }] },
      'messages.0.content.0.type',
    ],
    [{ model: 'm', max_tokens: 1, messages: [{ role: 'assistant', content: 'x' }] }, 'messages.0.role'],
    [{ ...ok, temperature: 2 }, 'temperature'],
    [{ ...ok, top_p: 'x' }, 'top_p'],
    [{ ...ok, stop_sequences: 'END' }, 'stop_sequences'],
    [{ ...ok, metadata: { foo: 1 } }, 'metadata.foo'],
    [{ ...ok, tenant_id: '' }, 'tenant_id'],
    [{ ...ok, id: 'has space' }, 'id'],
    [{ ...ok, id: 'x'.repeat(129) }, 'id'],
    [{ ...ok, priority: 0 }, 'priority'],
    [{ ...ok, max_token: 5 }, 'max_token'],
    [{ ...ok, temprature: 0.5 }, 'temprature'],
    [{ ...ok, 'no such field': 1 }, 'no such field'],
    [{ ...ok, top_k: -1 }, 'top_k'],
    [{ ...ok, top_k: 1.5 }, 'top_k'],
    [{ ...ok, service_tier: 'fastest' }, 'service_tier'],
    [{ ...ok, tools: [{ name: 'get weather', input_schema: { type: 'object' } }] }, 'tools.0.name'],
    [{ ...ok, tools: [{ name: 'w' }] }, 'tools.0.input_schema'],
    [{ ...ok, tools: [{ type: 'web_search_20250305' }] }, 'tools.0.name'],
    [{ ...ok, tool_choice: { type: 'tool' } }, 'tool_choice.name'],
    [{ ...ok, tool_choice: 'auto' }, 'tool_choice'],
    [{ ...ok, thinking: { type: 'enabled', budget_tokens: 100 } }, 'thinking.budget_tokens'],
    [
      { ...ok, max_tokens: 2000, thinking: { type: 'enabled', budget_tokens: 4000 } },
      'thinking.budget_tokens',
    ],
    [
      { ...ok, system: [{ type: 'text', text: 'x', cache_control: { type: 'ephemeral', ttl: '2h' } }] },
      'system.0.cache_control.ttl',
    ],
    [
      {
        model: 'm',
        max_tokens: 1,
        messages: [
          {
            role: 'user',
            content: [{ type: 'image', source: { type: 'base64', media_type: 'image/bmp', data: 'x' } }],
          },
        ],
      },
      'messages.0.content.0.source.media_type',
    ],
    [
      {
        model: 'm',
        max_tokens: 1,
        messages: [{ role: 'user', content: [{ type: 'tool_result', content: 'x' }] }],
      },
      'messages.0.content.0.tool_use_id',
    ],
    [
      {
        model: 'm',
        max_tokens: 1,
        messages: [{ role: 'user', content: [{ type: 'thinking', thinking: 'x' }] }],
      },
      'messages.0.content.0.signature',
    ],
    [{ ...ok, fallback_models: [] }, 'fallback_models'],
    [{ ...ok, fallback_models: ['claude-x\u202e'] }, 'fallback_models.0'],
    [{ ...ok, betas: ['has space'] }, 'betas.0'],
    [{ ...ok, metadata: { user_id: 'u', other: 1 } }, 'metadata.other'],
  ])('names the bad field: %j → %s', (body, field) => {
    expect(problems(body)).toContain(field);
  });

  it('rejects non-objects, prototype-pollution keys and deep nesting', () => {
    expect(problems(null)).toEqual(['body']);
    expect(problems([ok])).toEqual(['body']);
    expect(problems(JSON.parse('{"__proto__":{"x":1},"model":"m","max_tokens":1,"prompt":"p"}'))).toContain(
      '__proto__',
    );
    let deep: unknown = 'x';
    for (let i = 0; i < 40; i++) deep = [deep];
    const msgs = [{ role: 'user', content: [{ type: 'text', text: 'a', extra: deep }] }];
    expect(
      problems({ model: 'm', max_tokens: 1, messages: msgs }).some((f) => f.startsWith('messages.0')),
    ).toBe(true);
  });

  it('forwards fields it does not know, and content block types it does not check, to the API', () => {
    const { request } = validateJob({
      ...ok,
      context_management: { edits: [{ type: 'clear_tool_uses_20250919' }] },
      container: 'c1',
      messages: undefined,
    } as Record<string, unknown>);
    expect(request.context_management).toEqual({ edits: [{ type: 'clear_tool_uses_20250919' }] });
    expect(request.container).toBe('c1');
    const block = { type: 'future_block_2027', payload: { x: 1 } };
    const r2 = validateJob({ model: 'm', max_tokens: 5, messages: [{ role: 'user', content: [block] }] });
    expect(r2.request.messages[0]?.content).toEqual([block]);
  });

  it('accepts every request parameter of the Messages API: tools, tool choice, thinking, service tier, betas', () => {
    const body = {
      model: 'claude-sonnet-4-5',
      max_tokens: 4096,
      system: [{ type: 'text', text: 'sys', cache_control: { type: 'ephemeral', ttl: '1h' } }],
      messages: [
        {
          role: 'user',
          content: [
            { type: 'image', source: { type: 'base64', media_type: 'image/png', data: 'iVBOR' } },
            {
              type: 'document',
              source: { type: 'base64', media_type: 'application/pdf', data: 'JVBER' },
              citations: { enabled: true },
              title: 'doc',
            },
            {
              type: 'search_result',
              source: 'https://x',
              title: 't',
              content: [{ type: 'text', text: 'r' }],
            },
            { type: 'text', text: 'weather?' },
          ],
        },
        {
          role: 'assistant',
          content: [
            { type: 'thinking', thinking: 'hmm', signature: 'sig' },
            { type: 'redacted_thinking', data: 'opaque' },
            { type: 'tool_use', id: 'toolu_1', name: 'get_weather', input: { city: 'Paris' } },
          ],
        },
        { role: 'user', content: [{ type: 'tool_result', tool_use_id: 'toolu_1', content: '12C' }] },
      ],
      tools: [
        { name: 'get_weather', description: 'w', input_schema: { type: 'object', properties: {} } },
        { type: 'web_search_20250305', name: 'web_search', max_uses: 3 },
      ],
      tool_choice: { type: 'tool', name: 'get_weather' },
      thinking: { type: 'enabled', budget_tokens: 2048 },
      top_k: 5,
      service_tier: 'standard_only',
      stop_sequences: ['END'],
      fallback_models: ['claude-haiku-4-5'],
      betas: ['context-1m-2025-08-07'],
      stream: false,
    };
    const { request } = validateJob(body);
    const { stream: _s, ...expected } = body;
    expect(request).toEqual(expected);
  });

  it.each(['\\u0000', '\\u0007', '\\u001b[31m', '\\u202e', '\\u2066', '\\u200f', '\\u0085'])(
    'refuses control and bidi characters in model and tenant_id: %j',
    (ch) => {
      const c = JSON.parse(`"${ch}"`) as string;
      expect(c).toHaveLength(ch.length - 5);
      expect(problems({ ...ok, model: `claude${c}haiku` })).toContain('model');
      expect(problems({ ...ok, tenant_id: `ac${c}me` })).toContain('tenant_id');
    },
  );

  it('caps from both sides: max_tokens, messages, stop_sequences and the thinking budget', () => {
    expect(problems({ ...ok, max_tokens: 128_000 })).toEqual([]);
    expect(problems({ ...ok, max_tokens: 128_001 })).toEqual(['max_tokens']);
    const msgs = (n: number) => Array.from({ length: n }, () => ({ role: 'user', content: 'x' }));
    expect(problems({ model: 'm', max_tokens: 1, messages: msgs(1000) })).toEqual([]);
    expect(problems({ model: 'm', max_tokens: 1, messages: msgs(1001) })).toEqual(['messages']);
    expect(problems({ ...ok, stop_sequences: Array(16).fill('s') })).toEqual([]);
    expect(problems({ ...ok, stop_sequences: Array(17).fill('s') })).toEqual(['stop_sequences']);
    expect(problems({ ...ok, max_tokens: 2000, thinking: { type: 'enabled', budget_tokens: 1024 } })).toEqual(
      [],
    );
    expect(problems({ ...ok, max_tokens: 2000, thinking: { type: 'enabled', budget_tokens: 1023 } })).toEqual(
      ['thinking.budget_tokens'],
    );
  });

  it('publishes the schema as JSON Schema', () => {
    const s = jobJsonSchema() as { properties: Record<string, unknown>; required: string[] };
    expect(s.required).toEqual(['model', 'max_tokens']);
    for (const f of ['tools', 'tool_choice', 'thinking', 'top_k', 'service_tier', 'fallback_models', 'betas'])
      expect(s.properties, f).toHaveProperty(f);
    expect(JSON.stringify(s)).toContain('"redacted_thinking"');
  });

  it('the error message names the field', () => {
    expect(() => validateJob({ ...ok, max_tokens: -1 })).toThrow(/^max_tokens: /);
  });
});
