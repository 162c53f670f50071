import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { resolveConfig } from '../../src/core/config.js';
import { Logger } from '../../src/core/log.js';
import { RateLimiter } from '../../src/limiter/limiter.js';
import { AccountPeers } from '../../src/limiter/peers.js';
import type { CallPlan } from '../../src/limiter/types.js';
import { Keyspace } from '../../src/store/keys.js';
import { ConcurrencyTuner } from '../../src/worker/concurrency.js';

/** Worker processes of one account size their slots for their share of it (docs/limiter.md#concurrency). */
describe('the processes drawing on an account', () => {
  const conns: Redis[] = [];
  const redis = () => {
    const r = new Redis(inject('redisUrl'));
    conns.push(r);
    return r;
  };
  let key: string;
  beforeAll(() => {
    key = `test:peers:${randomUUID()}`;
  });
  afterAll(() => {
    for (const c of conns) c.disconnect();
  });

  it('counts each process active within the window, at its exact edge from both sides', async () => {
    const [a, b, c] = [
      new AccountPeers(redis(), key),
      new AccountPeers(redis(), key),
      new AccountPeers(redis(), key),
    ];
    const t = 1_000_000;
    expect(await a.count(6_000, true, t)).toBe(1);
    expect(await b.count(6_000, true, t)).toBe(2);
    // The same process again is still one.
    expect(await b.count(6_000, true, t + 1)).toBe(2);
    // 6,000 ms after a's last word a still counts; 6,001 ms after, it does not.
    expect(await c.count(6_000, true, t + 6_000)).toBe(3);
    expect(await c.count(6_000, true, t + 6_001)).toBe(2);
    // A process with nothing asked takes itself out, and counts nobody but the others.
    expect(await b.count(6_000, false, t + 6_002)).toBe(1);
    // Alone, or nobody: at least one (the one asking sizes for the whole account).
    expect(await c.count(6_000, false, t + 6_003)).toBe(1);
  });

  const plan: CallPlan = { model: 'claude-haiku-4-5', inputTokens: 10, maxTokens: 10, tenant: '' };
  const config = resolveConfig({ limiter: { tuning: { target: 1 } } }).limiter;
  const limits = { requests: 6_000, input_tokens: 1e7, output_tokens: 1e7 };
  const ceilings = { requests: 0, input_tokens: 0, output_tokens: 0 };

  async function processes(n: number, account = randomUUID()): Promise<RateLimiter[]> {
    const out: RateLimiter[] = [];
    for (let i = 0; i < n; i++) {
      const limiter = new RateLimiter({
        redis: redis(),
        account,
        keys: new Keyspace({ queue: 'q' }),
        config,
      });
      await limiter.state.observe(limiter.key('haiku'), limits, limits, ceilings);
      out.push(limiter);
    }
    return out;
  }

  it("four processes that asked for permits get a quarter of the account's rate each; one alone, all of it (the control)", async () => {
    const four = await processes(4);
    for (const p of four)
      await (await p.acquire(plan)).settle({ outcome: 'success', signals: {}, retryAfterMs: null });
    // 6,000 RPM at target 1: 100 a second; each process says it is active, then reads its share.
    for (const p of four) await p.requestShare(6_000);
    for (const p of four) expect(await p.requestShare(6_000)).toBeCloseTo(25, 6);
    const [alone] = await processes(1);
    await (await alone!.acquire(plan)).settle({ outcome: 'success', signals: {}, retryAfterMs: null });
    expect(await alone!.requestShare(6_000)).toBeCloseTo(100, 6);
    // Another account's processes are not this one's peers.
    expect(await alone!.requestRate()).toBeCloseTo(100, 6);
    await Promise.all([...four, alone!].map((l) => l.close()));
  });

  it('a process that has asked for no permit is not counted by the others', async () => {
    const [busy, idle] = await processes(2);
    await (await busy!.acquire(plan)).settle({ outcome: 'success', signals: {}, retryAfterMs: null });
    // idle knows the account (it read nothing, used no group): its share is 0, and it is not a peer.
    expect(await idle!.requestShare(6_000)).toBe(0);
    expect(await busy!.requestShare(6_000)).toBeCloseTo(100, 6);
    await Promise.all([busy!.close(), idle!.close()]);
  });

  it('where tokens bind, the rate is the calls the tokens allow, not the request limit; before any answer, the request limit (the control)', async () => {
    // 6,000 RPM (100 calls a second) but 60,000 OTPM (1,000 tokens a second): calls of 100 output
    // tokens fit 10 a second.
    const account = randomUUID();
    const limiter = new RateLimiter({ redis: redis(), account, keys: new Keyspace({ queue: 'q' }), config });
    const tight = { requests: 6_000, input_tokens: 1e7, output_tokens: 60_000 };
    await limiter.state.observe(limiter.key('haiku'), tight, tight, ceilings);
    const permit = await limiter.acquire(plan);
    expect(await limiter.requestRate()).toBeCloseTo(100, 6);
    await permit.settle({
      outcome: 'success',
      signals: {},
      retryAfterMs: null,
      inputTokens: 10,
      outputTokens: 100,
    });
    expect(await limiter.requestRate()).toBeCloseTo(10, 6);
    // A refused call teaches nothing about size (the 429 only lowers the pace, by its factor).
    const refused = await limiter.acquire(plan);
    await refused.settle({ outcome: 'rate_limited', signals: {}, retryAfterMs: 0 });
    const { factor } = await limiter.state.read(limiter.key('haiku'));
    expect(factor).toBeLessThan(1);
    expect(await limiter.requestRate()).toBeCloseTo(10 * factor, 6);
    await limiter.close();
  });

  it("four processes' tuners together hold what the account needs (rate × latency × 1.5), not four times it", async () => {
    const four = await processes(4);
    for (const p of four)
      await (await p.acquire(plan)).settle({ outcome: 'success', signals: {}, retryAfterMs: null });
    const tuners = four.map((p) => {
      const target = { concurrency: 16 };
      const t = new ConcurrencyTuner({
        min: 8,
        max: 1000,
        requestRate: () => p.requestShare(6_000),
        target,
        log: new Logger('error'),
        intervalMs: 2_000,
      });
      t.observe(2_500);
      return { t, target };
    });
    for (const { t } of tuners) await t.tune();
    for (const { t } of tuners) await t.tune();
    // 100 a second × 2.5 s = 250 in flight needed; × 1.5 headroom = 375, a quarter each + 2 = 96.
    const sizes = tuners.map((x) => x.target.concurrency);
    expect(sizes).toEqual([96, 96, 96, 96]);
    const total = sizes.reduce((a, b) => a + b, 0);
    expect(total).toBeGreaterThanOrEqual(250);
    // Each process rounds up (at most 1) and adds its 2 slots for jitter.
    expect(total).toBeLessThanOrEqual(250 * 1.5 + 4 * 3);
    await Promise.all(four.map((l) => l.close()));
  });
});
