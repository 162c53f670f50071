import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, describe, expect, inject, it } from 'vitest';
import type { ServedResponse } from '../../packages/anthropic-simulator/src/index.js';
import { resolveConfig } from '../../src/core/config.js';
import { modelGroup } from '../../src/core/models.js';
import { RateLimiter } from '../../src/limiter/limiter.js';
import type { CallPlan, Deferral, Permit } from '../../src/limiter/types.js';
import { Keyspace } from '../../src/store/keys.js';
import { admitQuota } from '../../src/store/quota-store.js';
import { type TenantSettings, TenantStore } from '../../src/store/tenant-store.js';
import { readQuota } from '../../src/worker/budget.js';
import { get, post, type Stack, startStack, uniqueQueue } from '../helpers/stack.js';

const none = { requests: undefined, input_tokens: undefined, output_tokens: undefined };
const noCeil = { requests: 0, input_tokens: 0, output_tokens: 0 };
const isDeferral = (p: Permit | Deferral): p is Deferral => 'deferred' in p;
const haiku = 'claude-haiku-4-5';

/** Jobs of one tenant, posted in one batch; their ids. */
async function postJobs(s: Stack, tenant: string, n: number, maxTokens = 5): Promise<string[]> {
  const jobs = Array.from({ length: n }, (_, i) => ({
    model: haiku,
    max_tokens: maxTokens,
    prompt: `${tenant} ${i}`,
    tenant_id: tenant,
  }));
  return (await post(`${s.url}/v1/jobs/batch`, { jobs })).body.ids as string[];
}

async function waitAll(s: Stack, ids: string[]): Promise<void> {
  for (const id of ids) expect((await get(`${s.url}/v1/jobs/${id}?wait=60`)).body.state).toBe('completed');
}

describe('tenant quotas (requests and tokens per minute)', () => {
  const redis = new Redis(inject('redisUrl'));
  afterAll(() => redis.disconnect());

  it('admits up to a minute of requests, then says how long until the next fits', async () => {
    const k = new Keyspace({ queue: uniqueQueue() });
    const store = new TenantStore(redis, k);
    await store.add('t', { rpm: 3 });
    const t0 = Date.UTC(2026, 10, 27, 12);
    for (let i = 0; i < 3; i++) expect((await admitQuota(redis, k, 't', 10, t0)).waitMs).toBe(0);
    expect(await admitQuota(redis, k, 't', 10, t0)).toEqual({ waitMs: 20_000, resource: 'requests' });
    expect((await admitQuota(redis, k, 't', 10, t0 + 19_999)).waitMs).toBeGreaterThan(0);
    expect((await admitQuota(redis, k, 't', 10, t0 + 20_000)).waitMs).toBe(0);
    // Tokens: a call bigger than the rest of the minute waits; one bigger than a minute goes alone.
    await store.set('t', { rpm: null, tpm: 1000 });
    const t1 = t0 + 600_000;
    expect((await admitQuota(redis, k, 't', 700, t1)).waitMs).toBe(0);
    expect(await admitQuota(redis, k, 't', 400, t1)).toEqual({ waitMs: 6000, resource: 'tokens' });
    expect((await admitQuota(redis, k, 't', 300, t1)).waitMs).toBe(0);
    expect((await admitQuota(redis, k, 't', 5000, t1 + 60_000)).waitMs).toBe(0);
    // No quota, no state.
    await store.set('t', { tpm: null });
    await redis.del(k.quota('t'));
    for (let i = 0; i < 50; i++) expect((await admitQuota(redis, k, 't', 1e6)).waitMs).toBe(0);
    expect(await redis.exists(k.quota('t'))).toBe(0);
  });

  it("a worker puts a job over its tenant's quota back without an attempt; it runs once the minute allows", async () => {
    const s = await startStack();
    try {
      await new TenantStore(s.redis, s.svc.queue.keys).add('metered', { tpm: 6000 });
      // 3 × (2155 + the prompt's) tokens ≈ 6500 > 6000: the third waits about 5 s, even when the
      // three are picked up seconds apart on a loaded machine.
      const body = { model: 'claude-haiku-4-5', max_tokens: 2155, prompt: 'hello', tenant_id: 'metered' };
      const batch = await post(`${s.url}/v1/jobs/batch`, { jobs: [body, body, body] });
      const ids = batch.body.ids as string[];
      const views = await Promise.all(ids.map((id) => get(`${s.url}/v1/jobs/${id}?wait=30`)));
      expect(views.map((v) => v.body.state)).toEqual(['completed', 'completed', 'completed']);
      for (const v of views) expect(v.body.record.attempts).toBe(1);
      const waits = s.logs.filter((l) => l.msg === 'over quota: job waits');
      expect(waits.length).toBeGreaterThan(0);
      expect(waits[0]).toMatchObject({ tenant_id: 'metered', resource: 'tokens' });
    } finally {
      await s.close();
    }
  });
});

describe("tenant quotas inside the shared limiter's admission", () => {
  const redis = new Redis(inject('redisUrl'));
  afterAll(() => redis.disconnect());

  /** A limiter whose haiku group is known at `rpm` with `left` requests in its bucket. */
  async function limiter(rpm: number, left: number): Promise<RateLimiter> {
    const l = new RateLimiter({
      redis,
      account: randomUUID(),
      keys: new Keyspace({ queue: 'limiter' }),
      config: resolveConfig({ limiter: { tuning: { target: 1, reserveMs: 0 } } }).limiter,
    });
    await l.state.observe(
      l.key(modelGroup(haiku)),
      { ...none, requests: rpm },
      { ...none, requests: left },
      noCeil,
    );
    return l;
  }

  it('per minute: counted at admission, refused one past (deferred, reason quota), refunded on settle', async () => {
    const k = new Keyspace({ queue: uniqueQueue() });
    await new TenantStore(redis, k).add('t', { rpm: 2, tpm: 1000 });
    const l = await limiter(600, 10);
    try {
      const quota = await readQuota(redis, k, 't');
      expect(quota?.id).toBe(`bull:${k.queue}/t`);
      // The same queue and tenant under another BullMQ prefix is another tenant of the account (its
      // own share buckets); under the same prefix, the same one.
      const other = new Keyspace({ queue: k.queue, prefix: 'other' });
      await new TenantStore(redis, other).add('t', { share: 0.5 });
      expect((await readQuota(redis, other, 't'))?.id).toBe(`other:${k.queue}/t`);
      expect(l.shareKey('haiku', `other:${k.queue}/t`)).not.toBe(l.shareKey('haiku', quota!.id));
      expect((await readQuota(redis, new Keyspace({ queue: k.queue }), 't'))?.id).toBe(quota?.id);
      const plan: CallPlan = { model: haiku, inputTokens: 100, maxTokens: 200, tenant: 't', quota };
      const first = await l.acquire(plan, undefined, { mayDefer: true });
      if (isDeferral(first)) throw new Error('first call deferred');
      expect(Number(await redis.hget(k.quota('t'), 'tok'))).toBe(300);
      // It used 40 + 10 of its 300: 250 come back to the tenant's tokens.
      await first.settle({
        outcome: 'success',
        signals: null,
        retryAfterMs: null,
        inputTokens: 40,
        outputTokens: 10,
      });
      const tok = Number(await redis.hget(k.quota('t'), 'tok'));
      expect(tok).toBeLessThanOrEqual(50);
      expect(tok).toBeGreaterThan(40);
      expect(isDeferral(await l.acquire(plan, undefined, { mayDefer: true }))).toBe(false);
      const third = await l.acquire(plan, undefined, { mayDefer: true });
      expect(third).toMatchObject({ deferred: true, reason: 'quota', resource: 'requests' });
      // Deferred at once: about 30 s until the two-per-minute bucket has room.
      expect((third as Deferral).untilMs - Date.now()).toBeGreaterThan(25_000);
    } finally {
      await l.close();
    }
  });

  it("over its share, a tenant's calls are handed back spaced one of its intervals apart", async () => {
    const l = await limiter(600, 10);
    try {
      const plan: CallPlan = { model: haiku, inputTokens: 10, maxTokens: 10, tenant: 't' };
      plan.quota = { id: `${uniqueQueue()}/t`, share: 0.25 };
      // The quarter of 600 RPM holds 2.5 calls: two go, the next ones are over the share.
      for (let i = 0; i < 2; i++)
        expect(isDeferral(await l.acquire(plan, undefined, { mayDefer: true }))).toBe(false);
      const t0 = Date.now();
      const third = await l.acquire(plan, undefined, { mayDefer: true });
      const fourth = await l.acquire(plan, undefined, { mayDefer: true });
      expect(third).toMatchObject({ deferred: true, reason: 'quota', resource: 'requests' });
      expect(fourth).toMatchObject({ deferred: true, reason: 'quota' });
      // Room for the third in about 200 ms; the fourth one tenant interval (100 ms / 0.25) later.
      expect((third as Deferral).untilMs - t0).toBeLessThanOrEqual(250);
      expect((fourth as Deferral).untilMs - (third as Deferral).untilMs).toBeGreaterThanOrEqual(390);
    } finally {
      await l.close();
    }
  });

  it('a call the group does not admit gives its per-minute quota back (control: one it admits keeps it)', async () => {
    const k = new Keyspace({ queue: uniqueQueue() });
    await new TenantStore(redis, k).add('t', { rpm: 5 });
    const plan: CallPlan = { model: haiku, inputTokens: 10, maxTokens: 10, tenant: 't' };
    plan.quota = await readQuota(redis, k, 't');
    // 6 RPM and an empty bucket: the next permit is 10 s away, past holdMs: deferred (pacing).
    const slow = await limiter(6, 0);
    try {
      expect(await slow.acquire(plan, undefined, { mayDefer: true })).toMatchObject({ reason: 'pacing' });
      expect(Number(await redis.hget(k.quota('t'), 'req'))).toBe(0);
    } finally {
      await slow.close();
    }
    const fast = await limiter(600, 10);
    try {
      expect(isDeferral(await fast.acquire(plan, undefined, { mayDefer: true }))).toBe(false);
      expect(Number(await redis.hget(k.quota('t'), 'req'))).toBeGreaterThan(0.99);
    } finally {
      await fast.close();
    }
  });
});

describe('tenant quotas against the simulator', { timeout: 120_000 }, () => {
  const redis = new Redis(inject('redisUrl'));
  afterAll(() => redis.disconnect());

  /**
   * 60 jobs each of tenants `capped` and `free` on a group whose limit (600 RPM) is discovered from
   * the simulator's headers: of the calls served until `free`'s last, how many were `capped`'s.
   */
  async function shareRun(
    capped: Partial<TenantSettings>,
  ): Promise<{ capped: number; free: number; handedBack: number; seconds: number }> {
    const served: Array<ServedResponse & { at: number }> = [];
    const s = await startStack({
      sim: {
        limits: { rpm: 600, itpm: 0, otpm: 0 },
        ttftMs: 5,
        onServed: (r) => served.push({ ...r, at: Date.now() }),
      },
    });
    try {
      const store = new TenantStore(s.redis, s.svc.queue.keys);
      await store.add('capped', capped);
      await store.add('free');
      const [, freeIds] = await Promise.all([postJobs(s, 'capped', 60), postJobs(s, 'free', 60)]);
      await waitAll(s, freeIds);
      const untilLastFree = served.slice(0, served.findLastIndex((r) => r.userId === 'free') + 1);
      const result = {
        capped: untilLastFree.filter((r) => r.userId === 'capped').length,
        free: untilLastFree.filter((r) => r.userId === 'free').length,
        // How often capped's jobs were handed back meanwhile (queue churn, not a limit).
        handedBack: s.logs.filter((l) => l.msg === 'over quota: job waits').length,
        // The window those calls were served in (first call to free's last).
        seconds: ((untilLastFree.at(-1)?.at ?? 0) - (untilLastFree[0]?.at ?? 0)) / 1000,
      };
      return result;
    } finally {
      await s.close();
    }
  }

  it('--share 0.25: the tenant gets about a quarter of the discovered limit, the other the rest (control: without it, about half)', async () => {
    const withShare = await shareRun({ share: 0.25 });
    const control = await shareRun({});
    const fraction = (r: { capped: number; free: number }) => r.capped / (r.capped + r.free);
    console.log(`share 0.25: ${JSON.stringify(withShare)}; no share: ${JSON.stringify(control)}`);
    expect(withShare.free).toBe(60);
    // What a quarter of the limit (600 RPM: 10/s) allows over the window, plus the share bucket's
    // first second (it starts full) and one call in flight: the rate, not the fraction, is the
    // promise (a loaded machine serves below the limit, and then a capped tenant's fraction grows
    // without its rate passing its share).
    const allowed = (r: { seconds: number }) => 0.25 * 10 * r.seconds + 2.5 + 1;
    expect(withShare.capped).toBeLessThanOrEqual(allowed(withShare));
    expect(fraction(withShare)).toBeGreaterThan(0.1);
    // The control: without the share the tenant takes about half, past what a quarter allows.
    expect(fraction(control)).toBeGreaterThan(0.4);
    expect(control.capped).toBeGreaterThan(allowed(control));
  });

  /** `hog` (with `hog` settings) has 12 jobs waiting before `other`'s 4 arrive; 2 worker slots. */
  async function hogRun(hog: Partial<TenantSettings>): Promise<{ hogServed: number; overQuota: number }> {
    const served: ServedResponse[] = [];
    const s = await startStack({
      sim: { ttftMs: 5, onServed: (r) => served.push(r) },
      env: { PROMPTQ_CONCURRENCY: '2' },
    });
    try {
      const store = new TenantStore(s.redis, s.svc.queue.keys);
      await store.add('hog', hog);
      await store.add('other');
      await postJobs(s, 'hog', 12);
      const t0 = Date.now();
      while (served.filter((r) => r.userId === 'hog').length < 2 && Date.now() - t0 < 20_000) {
        await new Promise((r) => setTimeout(r, 20));
      }
      const otherIds = await postJobs(s, 'other', 4);
      const started = Date.now();
      await waitAll(s, otherIds);
      // Each of other's jobs is served within seconds, hog's backlog notwithstanding.
      expect(Date.now() - started).toBeLessThan(15_000);
      const result = {
        hogServed: served.filter((r) => r.userId === 'hog').length,
        overQuota: s.logs.filter((l) => l.msg === 'over quota: job waits' && l.tenant_id === 'hog').length,
      };
      return result;
    } finally {
      await s.close();
    }
  }

  it("a tenant over its quota holds no worker slot: another tenant's jobs go on (control: quota off, the hog is served)", async () => {
    const capped = await hogRun({ rpm: 2 });
    expect(capped.hogServed).toBe(2);
    expect(capped.overQuota).toBeGreaterThan(0);
    const control = await hogRun({});
    expect(control.hogServed).toBeGreaterThan(2);
    expect(control.overQuota).toBe(0);
  });
});
