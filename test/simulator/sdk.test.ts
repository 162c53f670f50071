import Anthropic, {
  APIConnectionError,
  APIConnectionTimeoutError,
  APIError,
  AuthenticationError,
  BadRequestError,
  NotFoundError,
  OverloadedError,
  RateLimitError,
} from '@anthropic-ai/sdk';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  estimateSimTokens,
  REDACTED_THINKING_TRIGGER,
  type Simulator,
  startSimulator,
} from '../../packages/anthropic-simulator/src/index.js';

const MODEL = 'claude-sonnet-4-6';
const ask = {
  model: MODEL,
  max_tokens: 200,
  messages: [{ role: 'user' as const, content: 'Tell me about queues.' }],
};

/** Runs `fn` and returns what it threw. */
async function thrown(fn: () => Promise<unknown>): Promise<APIError> {
  try {
    await fn();
  } catch (err) {
    return err as APIError;
  }
  throw new Error('expected an error');
}

describe('the real @anthropic-ai/sdk against the simulator', () => {
  let sim: Simulator;
  let client: Anthropic;

  beforeEach(async () => {
    sim = await startSimulator({ apiKey: 'sk-ant-test', seed: 11, limits: { rpm: 100 } });
    client = new Anthropic({ apiKey: 'sk-ant-test', baseURL: sim.url, maxRetries: 0 });
  });

  afterEach(async () => {
    await sim.close();
  });

  it('messages.create (non-streaming) returns a real-shaped message', async () => {
    const msg = await client.messages.create(ask);
    expect(msg.id).toMatch(/^msg_[0-9A-Za-z]{24}$/);
    expect(msg).toMatchObject({ type: 'message', role: 'assistant', model: MODEL });
    expect(msg.content[0]?.type).toBe('text');
    expect(['end_turn', 'max_tokens']).toContain(msg.stop_reason);
    expect(msg.usage.input_tokens).toBe(estimateSimTokens({ messages: ask.messages }));
    expect(msg.usage.output_tokens).toBeGreaterThan(0);
    expect(msg.usage.output_tokens).toBeLessThanOrEqual(200);
    expect(msg.usage.cache_creation_input_tokens).toBe(0);
    expect(msg.usage.cache_read_input_tokens).toBe(0);
    expect(msg._request_id).toMatch(/^req_/);
  });

  it('.withResponse() exposes the headers and request_id', async () => {
    const { data, response, request_id } = await client.messages.create(ask).withResponse();
    expect(request_id).toMatch(/^req_[0-9A-Za-z]{24}$/);
    expect(response.headers.get('request-id')).toBe(request_id);
    expect(response.headers.get('anthropic-ratelimit-requests-limit')).toBe('100');
    expect(response.headers.get('anthropic-ratelimit-requests-remaining')).toBe('99');
    expect(response.headers.get('content-type')).toBe('application/json');
    expect(data.type).toBe('message');
  });

  it('messages.create({stream: true}) yields the real event sequence', async () => {
    sim.script([{ ok: true, outputTokens: 30 }]);
    const stream = await client.messages.create({ ...ask, stream: true });
    const types: string[] = [];
    let text = '';
    let inputTokens = 0;
    let outputTokens = 0;
    for await (const event of stream) {
      types.push(event.type);
      if (event.type === 'message_start') {
        inputTokens = event.message.usage.input_tokens;
        expect(event.message.content).toEqual([]);
        expect(event.message.usage.output_tokens).toBe(1);
      }
      if (event.type === 'content_block_delta' && event.delta.type === 'text_delta') text += event.delta.text;
      if (event.type === 'message_delta') {
        outputTokens = event.usage.output_tokens;
        expect(event.delta.stop_reason).toBe('end_turn');
      }
    }
    expect(types[0]).toBe('message_start');
    expect(types[1]).toBe('content_block_start');
    expect(types.slice(-3)).toEqual(['content_block_stop', 'message_delta', 'message_stop']);
    expect(types.filter((t) => t === 'content_block_delta').length).toBeGreaterThan(3);
    expect(inputTokens).toBe(estimateSimTokens({ messages: ask.messages }));
    expect(outputTokens).toBe(30);
    expect(estimateSimTokens(text)).toBe(30);
  });

  it('messages.stream() accumulates the final message with usage', async () => {
    sim.script([{ ok: true, outputTokens: 200 }]);
    const stream = client.messages.stream(ask);
    let streamed = '';
    stream.on('text', (t) => {
      streamed += t;
    });
    const final = await stream.finalMessage();
    expect(final.stop_reason).toBe('max_tokens');
    expect(final.usage.output_tokens).toBe(200);
    expect(final.content[0]?.type === 'text' && final.content[0].text).toBe(streamed);
    expect(stream.request_id ?? (await stream.withResponse()).request_id).toMatch(/^req_/);
  });

  it('streams report stop sequences like the real API', async () => {
    const outcomes = new Set<string | null>();
    for (let i = 0; i < 6; i++) {
      const msg = await client.messages.create({ ...ask, max_tokens: 300, stop_sequences: ['END'] });
      outcomes.add(msg.stop_reason);
      if (msg.stop_reason === 'stop_sequence') expect(msg.stop_sequence).toBe('END');
    }
    expect(outcomes.has('stop_sequence')).toBe(true);
  });

  it('maps errors to SDK classes with status, type and requestID', async () => {
    const bad = await thrown(() => client.messages.create({ ...ask, max_tokens: 0 }));
    expect(bad).toBeInstanceOf(BadRequestError);
    expect(bad.status).toBe(400);
    expect(bad.type).toBe('invalid_request_error');
    expect(bad.message).toContain('max_tokens');
    expect(bad.requestID).toMatch(/^req_/);

    const wrongKey = new Anthropic({ apiKey: 'sk-ant-other', baseURL: sim.url, maxRetries: 0 });
    const auth = await thrown(() => wrongKey.messages.create(ask));
    expect(auth).toBeInstanceOf(AuthenticationError);
    expect(auth.type).toBe('authentication_error');
    expect(auth.message).not.toContain('sk-ant-other'); // the key is never echoed

    const missing = await thrown(() => client.messages.create({ ...ask, model: 'gpt-4o' }));
    expect(missing).toBeInstanceOf(NotFoundError);
    expect(missing.type).toBe('not_found_error');
    expect(missing.message).toContain('model: gpt-4o');

    sim.script([{ status: 529 }]);
    const overloaded = await thrown(() => client.messages.create(ask));
    expect(overloaded).toBeInstanceOf(OverloadedError);
    expect(overloaded.status).toBe(529);
    expect(overloaded.type).toBe('overloaded_error');
    expect(overloaded.requestID).toMatch(/^req_/);
  });

  it('429s: retry-after header, and errorCode for spend limits', async () => {
    sim.setLimits({ rpm: 1 });
    await client.messages.create(ask);
    const limited = await thrown(() => client.messages.create(ask));
    expect(limited).toBeInstanceOf(RateLimitError);
    expect(limited.status).toBe(429);
    expect(limited.type).toBe('rate_limit_error');
    expect(limited.errorCode).toBeNull();
    expect(Number(limited.headers?.get('retry-after'))).toBeGreaterThanOrEqual(59);
    expect(limited.headers?.get('anthropic-ratelimit-requests-remaining')).toBe('0');

    sim.script([
      {
        status: 429,
        errorCode: 'enforced_spend_limit_reached',
        message: 'You have reached your specified API usage limits.',
        retryAfter: 3600,
      },
    ]);
    const spend = await thrown(() => client.messages.create(ask));
    expect(spend).toBeInstanceOf(RateLimitError);
    expect(spend.errorCode).toBe('enforced_spend_limit_reached');
    expect(spend.type).toBe('rate_limit_error');
    expect(spend.headers?.get('retry-after')).toBe('3600');
    expect((spend.error as { request_id?: string }).request_id).toBe(spend.requestID);
    expect(sim.stats().rateLimited).toMatchObject({ total: 2, bucket: 1, scripted: 1 });
  });

  it('a dropped connection surfaces as APIConnectionError', async () => {
    sim.script([{ drop: true }]);
    const err = await thrown(() => client.messages.create(ask));
    expect(err).toBeInstanceOf(APIConnectionError);
    expect(sim.stats().drops).toBe(1);
  });

  it('a mid-stream overloaded error is thrown from the stream after some text', async () => {
    sim.script([{ midstreamError: true }]);
    const stream = await client.messages.create({ ...ask, stream: true });
    const seen: string[] = [];
    const err = await thrown(async () => {
      for await (const event of stream) seen.push(event.type);
    });
    expect(seen).toContain('content_block_delta');
    expect(seen).not.toContain('message_stop');
    expect(err).toBeInstanceOf(APIError);
    expect(err.type).toBe('overloaded_error');
    expect(sim.stats()).toMatchObject({ midstreamErrors: 1, succeeded: 0, byStatus: { '200': 1 } });

    sim.script([{ midstreamError: true }]);
    const viaHelper = await thrown(() => client.messages.stream(ask).finalMessage());
    expect(viaHelper.type).toBe('overloaded_error');
  });

  it('a hung request ends in the client timeout', async () => {
    sim.script([{ hang: true }]);
    const err = await thrown(() => client.messages.create(ask, { timeout: 150 }));
    expect(err).toBeInstanceOf(APIConnectionTimeoutError);
    expect(sim.stats().hangs).toBe(1);
  });

  it('the SDK retries a 529 and then succeeds', async () => {
    const retrying = new Anthropic({ apiKey: 'sk-ant-test', baseURL: sim.url, maxRetries: 1 });
    sim.script([{ status: 529 }, { ok: true, outputTokens: 5 }]);
    const msg = await retrying.messages.create(ask);
    expect(msg.usage.output_tokens).toBe(5);
    expect(sim.stats()).toMatchObject({ requests: 2, overloaded: 1, succeeded: 1 });
  });

  it('count_tokens uses the same counter as messages', async () => {
    const system = 'You are a careful assistant.';
    const counted = await client.messages.countTokens({ model: MODEL, system, messages: ask.messages });
    expect(counted.input_tokens).toBe(estimateSimTokens({ system, messages: ask.messages }));
    const msg = await client.messages.create({ ...ask, system });
    expect(msg.usage.input_tokens).toBe(counted.input_tokens);
    expect(sim.stats().countTokensRequests).toBe(1);
  });

  it('prompt caching: creation first, reads afterwards', async () => {
    const docs = Array.from({ length: 1_500 }, (_, i) => ['queue', 'job', 'limit'][i % 3]).join(' ');
    const req = {
      ...ask,
      system: [{ type: 'text' as const, text: docs, cache_control: { type: 'ephemeral' as const } }],
    };
    const first = await client.messages.create(req);
    const second = await client.messages.create(req);
    const prefix = 4 + 3 + 1_500;
    expect(first.usage).toMatchObject({ cache_creation_input_tokens: prefix, cache_read_input_tokens: 0 });
    expect(second.usage).toMatchObject({ cache_creation_input_tokens: 0, cache_read_input_tokens: prefix });
    expect(second.usage.input_tokens).toBe(estimateSimTokens({ messages: ask.messages }) - 4);
    expect(sim.stats()).toMatchObject({ cacheCreationInputTokens: prefix, cacheReadInputTokens: prefix });
  });

  it('models.list returns a page', async () => {
    const page = await client.models.list();
    expect(page.data.length).toBeGreaterThan(0);
    expect(page.data[0]?.id).toMatch(/^claude-/);
  });

  it('redacted thinking: the test string adds a redacted_thinking block (streamed and not); only the returned data goes back', async () => {
    const thinkingAsk = {
      model: MODEL,
      max_tokens: 2000,
      thinking: { type: 'enabled' as const, budget_tokens: 1024 },
    };
    const plain = await client.messages.create({
      ...thinkingAsk,
      messages: [{ role: 'user', content: 'Think about queues.' }],
    });
    // Control: without the string, thinking and text only.
    expect(plain.content.map((b) => b.type)).toEqual(['thinking', 'text']);
    const prompt = `${REDACTED_THINKING_TRIGGER} Think about queues.`;
    const created = await client.messages.create({
      ...thinkingAsk,
      messages: [{ role: 'user', content: prompt }],
    });
    expect(created.content.map((b) => b.type)).toEqual(['thinking', 'redacted_thinking', 'text']);
    const streamed = await client.messages
      .stream({ ...thinkingAsk, messages: [{ role: 'user', content: prompt }] })
      .finalMessage();
    expect(streamed.content.map((b) => b.type)).toEqual(['thinking', 'redacted_thinking', 'text']);
    const redacted = streamed.content[1] as Anthropic.RedactedThinkingBlock;
    expect(redacted.data.length).toBeGreaterThan(40);

    // The next turn sends the blocks back as they came: accepted. Made-up data: 400, as the API does.
    const next = (data: string) =>
      client.messages.create({
        ...thinkingAsk,
        messages: [
          { role: 'user', content: prompt },
          {
            role: 'assistant',
            content: [streamed.content[0] as Anthropic.ThinkingBlock, { type: 'redacted_thinking', data }],
          },
          { role: 'user', content: 'Go on.' },
        ],
      });
    expect((await next(redacted.data)).type).toBe('message');
    const err = await thrown(() => next(Buffer.from('made up'.repeat(20)).toString('base64')));
    expect(err).toBeInstanceOf(BadRequestError);
    expect(err.message).toContain('Invalid `data` in `redacted_thinking` block');
  });
});
