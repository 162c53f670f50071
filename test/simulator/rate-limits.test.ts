import { afterEach, describe, expect, it } from 'vitest';
import {
  type Simulator,
  type SimulatorOptions,
  startSimulator,
} from '../../packages/anthropic-simulator/src/index.js';
import { API_HEADERS, errorMessage, fakeClock, message, post } from './helpers.js';

const RESOURCES = ['requests', 'input-tokens', 'output-tokens', 'tokens'];
const FIELDS = ['limit', 'remaining', 'reset'];

describe('rate limits over HTTP (injected clock)', () => {
  let sim: Simulator;
  let clock: ReturnType<typeof fakeClock>;

  const start = async (opts: SimulatorOptions = {}) => {
    clock = fakeClock();
    sim = await startSimulator({ now: clock.now, ttftMs: 0, msPerToken: 0, ...opts });
    return sim;
  };

  afterEach(async () => {
    await sim?.close();
  });

  it('sends every anthropic-ratelimit header, with RFC 3339 resets and token remainders in thousands', async () => {
    await start({ limits: { rpm: 50, itpm: 30_000, otpm: 8_000 } });
    sim.script([{ ok: true, outputTokens: 100 }]);
    const res = await message(sim, { max_tokens: 1_000 });
    expect(res.status).toBe(200);
    for (const r of RESOURCES) {
      for (const f of FIELDS)
        expect(res.headers.get(`anthropic-ratelimit-${r}-${f}`), `${r}-${f}`).not.toBeNull();
    }
    const h = (name: string) => res.headers.get(`anthropic-ratelimit-${name}`) ?? '';
    expect(h('requests-limit')).toBe('50');
    expect(h('requests-remaining')).toBe('49'); // exact
    expect(h('input-tokens-limit')).toBe('30000');
    expect(h('input-tokens-remaining')).toBe('29000'); // 30000 - a few, rounded down
    expect(h('output-tokens-remaining')).toBe('7000'); // 8000 - 100 actually produced (refund applied)
    expect(h('tokens-limit')).toBe('8000'); // output is the tighter of the two
    expect(h('tokens-remaining')).toBe('7000');
    for (const r of RESOURCES) {
      const reset = h(`${r}-reset`);
      expect(reset).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
      expect(Number.isNaN(Date.parse(reset))).toBe(false);
    }
    // One request refills in 60/50 = 1.2 s → full again at t + 1.2 s, rounded up to the second.
    expect(Date.parse(h('requests-reset'))).toBe(Math.ceil((clock.t + 1_200) / 1000) * 1000);
    // 100 output tokens at 8000/min refill in 750 ms.
    expect(Date.parse(h('output-tokens-reset'))).toBe(Math.ceil((clock.t + 750) / 1000) * 1000);
    expect(res.headers.get('request-id')).toMatch(/^req_[0-9A-Za-z]{24}$/);
  });

  it('omits the headers of unlimited resources', async () => {
    await start({ limits: { rpm: 0, itpm: 0, otpm: 10_000 } });
    const res = await message(sim);
    expect(res.headers.get('anthropic-ratelimit-requests-limit')).toBeNull();
    expect(res.headers.get('anthropic-ratelimit-input-tokens-limit')).toBeNull();
    expect(res.headers.get('anthropic-ratelimit-output-tokens-limit')).toBe('10000');
    expect(res.headers.get('anthropic-ratelimit-tokens-limit')).toBe('10000');
  });

  it('429s when the RPM bucket is empty, with retry-after until one request has refilled', async () => {
    await start({ limits: { rpm: 3 } });
    for (let i = 0; i < 3; i++) expect((await message(sim)).status).toBe(200);
    const refused = await message(sim);
    expect(refused.status).toBe(429);
    expect(refused.json).toMatchObject({ type: 'error', error: { type: 'rate_limit_error' } });
    expect(refused.json.request_id).toBe(refused.headers.get('request-id'));
    expect(errorMessage(refused.json)).toContain('rate limit for your organization of 3 requests per minute');
    expect(refused.headers.get('retry-after')).toBe('20'); // 1 request at 3/min
    expect(refused.headers.get('anthropic-ratelimit-requests-remaining')).toBe('0');
    clock.advance(19_500);
    expect((await message(sim)).headers.get('retry-after')).toBe('1');
    clock.advance(500);
    expect((await message(sim)).status).toBe(200);
    const stats = sim.stats();
    expect(stats.rateLimited).toEqual({ total: 2, bucket: 2, shortInterval: 0, scripted: 0 });
    expect(stats.byStatus).toEqual({ '200': 4, '429': 2 });
    expect(stats.groups.sonnet?.limits.rpm).toBe(3);
  });

  it('rateLimitHeaders: false sends no rate-limit headers but still enforces the limits, with retry-after', async () => {
    await start({ limits: { rpm: 2 }, rateLimitHeaders: false });
    const ok = await message(sim);
    expect(ok.status).toBe(200);
    expect([...ok.headers.keys()].filter((k) => k.startsWith('anthropic-ratelimit-'))).toEqual([]);
    expect((await message(sim)).status).toBe(200);
    const refused = await message(sim);
    expect(refused.status).toBe(429);
    expect(refused.headers.get('retry-after')).toBe('30'); // 1 request at 2/min
    expect([...refused.headers.keys()].filter((k) => k.startsWith('anthropic-ratelimit-'))).toEqual([]);
    // The control: the same limits with headers on do send them.
    await sim.close();
    await start({ limits: { rpm: 2 } });
    expect((await message(sim)).headers.get('anthropic-ratelimit-requests-limit')).toBe('2');
  });

  it('charges max_tokens to the output bucket up front and names the output limit', async () => {
    await start({ limits: { otpm: 1_000 } });
    sim.script([{ ok: true, outputTokens: 500 }]);
    expect((await message(sim, { max_tokens: 900 })).status).toBe(200); // 400 refunded afterwards
    const refused = await message(sim, { max_tokens: 600 });
    expect(refused.status).toBe(429);
    expect(errorMessage(refused.json)).toContain('1,000 output tokens per minute');
    expect(refused.headers.get('retry-after')).toBe('6'); // 100 tokens at 1000/min
  });

  it('does not count cache reads toward ITPM', async () => {
    const text = Array.from({ length: 2_000 }, () => 'cache').join(' ');
    await start({ limits: { itpm: 2_500 } });
    const cached = {
      system: [{ type: 'text', text, cache_control: { type: 'ephemeral' } }],
    };
    const first = await message(sim, cached);
    expect(first.status).toBe(200);
    expect((first.json.usage as Record<string, number>).cache_creation_input_tokens).toBeGreaterThan(2_000);
    // ~2,000 tokens were written; a second uncached copy would not fit into the 2,500 ITPM bucket...
    const uncached = await message(sim, { system: text });
    expect(uncached.status).toBe(429);
    expect(errorMessage(uncached.json)).toContain('2,500 input tokens per minute');
    // ...but a cache read does.
    const read = await message(sim, cached);
    expect(read.status).toBe(200);
    expect((read.json.usage as Record<string, number>).cache_read_input_tokens).toBeGreaterThan(2_000);
  });

  it('the short-interval guard refuses a burst the headers call fine', async () => {
    await start({ limits: { rpm: 600 }, shortIntervalSeconds: 1 });
    for (let i = 0; i < 10; i++) expect((await message(sim)).status).toBe(200);
    const refused = await message(sim);
    expect(refused.status).toBe(429);
    expect(refused.headers.get('anthropic-ratelimit-requests-remaining')).toBe('590');
    expect(refused.headers.get('retry-after')).toBe('1');
    expect(sim.stats().rateLimited).toMatchObject({ bucket: 0, shortInterval: 1 });
    clock.advance(100); // one request refills at 10/s
    expect((await message(sim)).status).toBe(200);
  });

  it('headers show announced limits while smaller enforced ones apply', async () => {
    await start({ limits: { rpm: 10, announced: { rpm: 100 } } });
    let last = await message(sim);
    for (let i = 1; i < 10; i++) last = await message(sim);
    expect(last.status).toBe(200);
    expect(last.headers.get('anthropic-ratelimit-requests-limit')).toBe('100');
    expect(last.headers.get('anthropic-ratelimit-requests-remaining')).toBe('90');
    const refused = await message(sim);
    expect(refused.status).toBe(429);
    expect(refused.headers.get('anthropic-ratelimit-requests-remaining')).toBe('90');
    expect(sim.stats().groups.sonnet?.limits).toMatchObject({ rpm: 10, announced: { rpm: 100 } });
  });

  it('setLimits changes enforced limits mid-run, keeping what was used', async () => {
    await start({ limits: { rpm: 5 } });
    for (let i = 0; i < 5; i++) await message(sim);
    expect((await message(sim)).status).toBe(429);
    sim.setLimits({ rpm: 10 });
    const ok = await message(sim);
    expect(ok.status).toBe(200);
    expect(ok.headers.get('anthropic-ratelimit-requests-limit')).toBe('10');
    expect(ok.headers.get('anthropic-ratelimit-requests-remaining')).toBe('4');
    // Per group, over the admin route (no API key needed).
    const admin = await post(
      sim,
      '/__admin/limits',
      { group: 'haiku', rpm: 1 },
      { 'content-type': 'application/json' },
    );
    expect(admin.status).toBe(200);
    expect((await message(sim, { model: 'claude-haiku-4-5' })).status).toBe(200);
    expect((await message(sim, { model: 'claude-haiku-4-5' })).status).toBe(429);
    expect(sim.stats().groups.sonnet?.limits.rpm).toBe(10);
    const bad = await post(sim, '/__admin/limits', { rpm: -1 }, { 'content-type': 'application/json' });
    expect(bad.status).toBe(400);
    expect(errorMessage(bad.json)).toContain('limits.rpm');
    expect(() => sim.setLimits({ itpm: Number.NaN })).toThrow(/limits\.itpm/);
  });

  it('startEmpty makes the first requests wait for refill', async () => {
    await start({ limits: { rpm: 60 }, startEmpty: true });
    const refused = await message(sim);
    expect(refused.status).toBe(429);
    expect(refused.headers.get('retry-after')).toBe('1');
    clock.advance(1_000);
    expect((await message(sim)).status).toBe(200);
  });

  it('scripted 429/529 and refusals do not consume capacity; reset refills', async () => {
    await start({ limits: { rpm: 2 } });
    sim.script([{ status: 529 }, { status: 429, retryAfter: 3 }]);
    expect((await message(sim)).status).toBe(529);
    const scripted = await message(sim);
    expect(scripted.status).toBe(429);
    expect(scripted.headers.get('retry-after')).toBe('3');
    expect(scripted.headers.get('anthropic-ratelimit-requests-remaining')).toBe('2');
    await message(sim);
    await message(sim);
    expect((await message(sim)).status).toBe(429);
    sim.reset();
    expect(sim.stats().requests).toBe(0);
    expect((await message(sim)).status).toBe(200);
    expect(sim.stats().groups.sonnet?.limits.rpm).toBe(2); // limits survive a reset
  });

  it('rejects bad option values naming the field', async () => {
    await expect(startSimulator({ ttftMs: -1 })).rejects.toThrow(/ttftMs/);
    await expect(startSimulator({ faults: { drop: 2 } })).rejects.toThrow(/faults\.drop/);
    await expect(startSimulator({ limits: { rpm: -5 } })).rejects.toThrow(/limits\.rpm/);
    await expect(startSimulator({ groupLimits: { opus: { otpm: -1 } } })).rejects.toThrow(
      /groupLimits\.opus\.otpm/,
    );
    await expect(startSimulator({ shortIntervalSeconds: 120 })).rejects.toThrow(/shortIntervalSeconds/);
    await start();
  });

  it('API key on the admin route is not needed, on the API it is', async () => {
    await start();
    const { 'x-api-key': _key, ...noKey } = API_HEADERS;
    const res = await post(sim, '/v1/messages', { model: 'claude-sonnet-4-6' }, noKey);
    expect(res.status).toBe(401);
    const stats = await fetch(`${sim.url}/__stats`);
    expect(stats.status).toBe(200);
  });
});
