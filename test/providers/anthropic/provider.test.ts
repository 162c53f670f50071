/**
 * The Anthropic provider behind the seam (providers/provider.ts), against the simulator: the
 * registry makes it from the configuration, its account names the key without holding it, and one
 * streamed attempt relays the stream's events and the answer's rate-limit signals as they arrive.
 */
import Anthropic from '@anthropic-ai/sdk';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Simulator, startSimulator } from '../../../packages/anthropic-simulator/src/index.js';
import { ConfigError, loadConfig } from '../../../src/core/config.js';
import { validateJob } from '../../../src/core/job.js';
import { Logger } from '../../../src/core/log.js';
import type { ApiStreamEvent } from '../../../src/core/result.js';
import { AnthropicProvider } from '../../../src/providers/anthropic/provider.js';
import type { RateLimitSignals } from '../../../src/providers/provider.js';
import { createProvider, providerNames } from '../../../src/providers/registry.js';

const key = 'sk-ant-provider-test-0123456789';

describe('the Anthropic provider', () => {
  let sim: Simulator;
  beforeAll(async () => {
    sim = await startSimulator({ seed: 3, ttftMs: 20, limits: { rpm: 100 } });
  });
  afterAll(() => sim.close());

  it('is made by the registry from the configuration; its account is a fingerprint, never the key', async () => {
    expect(providerNames).toEqual(['anthropic']);
    const log = new Logger('silent');
    const env = { ANTHROPIC_API_KEY: key, ANTHROPIC_BASE_URL: sim.url };
    const provider = await createProvider('anthropic', loadConfig(env), log);
    const again = await createProvider('anthropic', loadConfig(env), log);
    const other = await createProvider(
      'anthropic',
      loadConfig({ ...env, ANTHROPIC_API_KEY: `${key}x` }),
      log,
    );
    expect(provider.name).toBe('anthropic');
    expect(provider.account).toMatch(/^[0-9a-f]{12}$/);
    expect(provider.account).toBe(again.account);
    expect(other.account).not.toBe(provider.account);
    expect(JSON.stringify(provider)).not.toContain(key);
    expect(provider.modelId('claude-haiku-4-5')).toBe('claude-haiku-4-5');
    expect(provider.batches).toBeDefined();
    await expect(createProvider('bedrock', loadConfig(env), log)).rejects.toBeInstanceOf(ConfigError);
  });

  it('streams one attempt: the events as they arrive, the signals before the answer, the folded message', async () => {
    const provider = new AnthropicProvider({
      client: new Anthropic({ apiKey: key, baseURL: sim.url, maxRetries: 0 }),
    });
    const { request } = validateJob({ model: 'claude-haiku-4-5', max_tokens: 60, prompt: 'Tell a story' });
    const order: string[] = [];
    const events: ApiStreamEvent[] = [];
    let signals: RateLimitSignals | undefined;
    const result = await provider.stream({
      request,
      model: request.model,
      timeoutMs: 10_000,
      onSignals: (s) => {
        signals = s;
        order.push('signals');
      },
      onStreamEvent: (e) => {
        events.push(e);
        if (e.type === 'message_start' || e.type === 'message_stop') order.push(e.type);
      },
    });
    order.push('result');
    expect(order).toEqual(['signals', 'message_start', 'message_stop', 'result']);
    expect(signals?.requests?.limit).toBe(100);
    expect(result.signals).toEqual(signals);
    const text = events
      .map((e) => (e.type === 'content_block_delta' && e.delta.type === 'text_delta' ? e.delta.text : ''))
      .join('');
    const block = result.message.content[0];
    expect(block?.type === 'text' ? block.text : undefined).toBe(text);
    expect(text.length).toBeGreaterThan(0);
  });

  it('classifies a failed attempt with its signals (a 429 carries the limits it announced)', async () => {
    sim.script([{ status: 429, type: 'rate_limit_error', retryAfter: 1 }]);
    const provider = new AnthropicProvider({
      client: new Anthropic({ apiKey: key, baseURL: sim.url, maxRetries: 0 }),
    });
    const { request } = validateJob({ model: 'claude-haiku-4-5', max_tokens: 10, prompt: 'hi' });
    const err = await provider.stream({ request, model: request.model, timeoutMs: 10_000 }).catch((e) => e);
    const decision = provider.classify(err);
    expect(decision).toMatchObject({
      outcome: 'rate_limited',
      statusCode: 429,
      retry: true,
      retryAfterMs: 1000,
    });
    expect(decision.signals).not.toBeNull();
  });
});
