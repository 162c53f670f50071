import { describe, expect, it } from 'vitest';
import { ValidationError, validateJob } from '../../src/core/job.js';

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
      'messages.0.content.0',
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

  it('the error message names the field', () => {
    expect(() => validateJob({ ...ok, max_tokens: -1 })).toThrow(/^max_tokens: /);
  });
});
