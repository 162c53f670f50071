/**
 * `speed: "fast"` in the simulator: a fast call is served from its model group's own fast bucket
 * (`opus-fast`), announced by `anthropic-fast-*` headers beside the standard group's
 * `anthropic-ratelimit-*` ones; `usage.speed` says which speed served it; Sonnet and Haiku refuse
 * fast mode, as the API does.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { type Simulator, startSimulator } from '../../packages/anthropic-simulator/src/index.js';
import { errorMessage, fakeClock, message } from './helpers.js';

const opus = 'claude-opus-5-5';

describe('simulator: fast mode has a bucket of its own', () => {
  let sim: Simulator;
  let clock: ReturnType<typeof fakeClock>;
  afterEach(async () => {
    await sim?.close();
  });

  const start = async () => {
    clock = fakeClock();
    sim = await startSimulator({
      now: clock.now,
      ttftMs: 0,
      msPerToken: 0,
      limits: { rpm: 50, itpm: 30_000, otpm: 8_000 },
      groupLimits: { 'opus-fast': { itpm: 12_000, otpm: 2_000 } },
    });
  };

  it('announces the fast bucket in anthropic-fast-* headers and charges it, not the standard one', async () => {
    await start();
    sim.script([{ ok: true, outputTokens: 100 }]);
    const res = await message(sim, { model: opus, max_tokens: 1_000, speed: 'fast' });
    expect(res.status).toBe(200);
    expect((res.json.usage as { speed: string }).speed).toBe('fast');
    const h = (name: string) => res.headers.get(name);
    expect(h('anthropic-fast-input-tokens-limit')).toBe('12000');
    expect(h('anthropic-fast-input-tokens-remaining')).toBe('11000');
    expect(h('anthropic-fast-output-tokens-limit')).toBe('2000');
    expect(h('anthropic-fast-output-tokens-remaining')).toBe('1000'); // 2000 - 100 sent, in thousands
    expect(Date.parse(h('anthropic-fast-output-tokens-reset') ?? '')).toBe(
      Math.ceil((clock.t + 3_000) / 1000) * 1000, // 100 tokens at 2000/min
    );
    // The fast bucket announces no requests limit; the standard bucket is untouched by the call.
    expect(h('anthropic-fast-requests-limit')).toBeNull();
    expect(h('anthropic-ratelimit-requests-remaining')).toBe('50');
    expect(h('anthropic-ratelimit-output-tokens-remaining')).toBe('8000');

    const standard = await message(sim, { model: opus, max_tokens: 1_000 });
    expect(standard.status).toBe(200);
    expect((standard.json.usage as { speed: string }).speed).toBe('standard');
    expect(standard.headers.get('anthropic-fast-output-tokens-limit')).toBeNull();
    expect(standard.headers.get('anthropic-ratelimit-requests-remaining')).toBe('49');
    const groups = sim.stats().groups;
    expect(groups['opus-fast']?.succeeded).toBe(1);
    expect(groups.opus?.succeeded).toBe(1);
  });

  it('a full fast bucket answers fast calls 429 while standard calls of the same model still pass', async () => {
    await start();
    expect((await message(sim, { model: opus, max_tokens: 2_000, speed: 'fast' })).status).toBe(200);
    const refused = await message(sim, { model: opus, max_tokens: 2_000, speed: 'fast' });
    expect(refused.status).toBe(429);
    expect(errorMessage(refused.json)).toContain('2,000 output tokens per minute');
    expect((await message(sim, { model: opus, max_tokens: 2_000 })).status).toBe(200);
  });

  it('refuses speed "fast" on Sonnet and Haiku, and a speed that is neither', async () => {
    await start();
    const sonnet = await message(sim, { model: 'claude-sonnet-4-6', speed: 'fast' });
    expect(sonnet.status).toBe(400);
    expect(errorMessage(sonnet.json)).toContain('fast mode is not supported');
    expect((await message(sim, { model: 'claude-haiku-4-5', speed: 'fast' })).status).toBe(400);
    expect((await message(sim, { model: opus, speed: 'turbo' })).status).toBe(400);
    expect((await message(sim, { model: 'claude-sonnet-4-6', speed: 'standard' })).status).toBe(200);
  });
});
