/**
 * Expiries are set when they are needed, not on every write (issue 22 item 6: Redis commands per
 * job): a rollup counter hash gets its EXPIRE in the write that makes one of its fields, and a
 * limiter group's hash its PEXPIRE when less than half a day of it is left. Each check has its
 * control: a write that must renew the expiry does, so a TTL left alone is not a write that failed.
 */
import { Redis } from 'ioredis';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { defaults } from '../../src/core/defaults.js';
import { SharedLimiterState } from '../../src/limiter/shared-state.js';
import { Keyspace } from '../../src/store/keys.js';
import { RollupStore } from '../../src/store/rollup-store.js';
import { uniqueQueue } from '../helpers/stack.js';

const hour = 3600;

describe('expiries set when needed', () => {
  const redis = new Redis(inject('redisUrl'));
  afterAll(() => redis.disconnect());

  it('a rollup hash gets EXPIRE only in a write that makes a field; every key still expires', async () => {
    const keys = new Keyspace({ queue: uniqueQueue() });
    const store = new RollupStore(redis as never, keys);
    const retention = { minuteSeconds: 26 * hour, daySeconds: 40 * 24 * hour };
    const at = Date.now();
    const entry = (model: string) => ({
      finishedMs: at,
      minute: { model, tenant: '', counters: { apiAttempts: 1 }, tenantCounters: {} },
      costMicro: 0,
    });
    const key = keys.rollupMinute(Math.floor(at / 60_000));
    await store.addMany([entry('m1')], retention);
    expect(await redis.ttl(key)).toBeGreaterThan(26 * hour - 60);
    // As if the hash were 25 hours old: an hour left.
    await redis.expire(key, hour);
    await store.addMany([entry('m1'), entry('m1')], retention);
    expect(await redis.hget(key, 'att|m1')).toBe('3');
    // Its field existed: no EXPIRE, the hour left is the hour left.
    expect(await redis.ttl(key)).toBeLessThanOrEqual(hour);
    expect(await redis.ttl(key)).toBeGreaterThan(hour - 60);
    // The control: a write that makes a field renews the expiry.
    await store.addMany([entry('m2')], retention);
    expect(await redis.ttl(key)).toBeGreaterThan(26 * hour - 60);
    // A key made again after it expired gets its expiry again (it has no fields, so every one is new).
    await redis.del(key);
    await store.addMany([entry('m1')], retention);
    expect(await redis.ttl(key)).toBeGreaterThan(26 * hour - 60);
  });

  it("a limiter group's hash gets PEXPIRE when less than half a day is left, not on every settle", async () => {
    const key = `test:limiter:${uniqueQueue()}`;
    const state = new SharedLimiterState(redis, defaults.limiter.tuning);
    const ok = {
      outcome: 'success' as const,
      refundInputTokens: 0,
      refundOutputTokens: 0,
      inRatioSample: null,
      headersSeen: true,
      retryAfterMs: null,
    };
    const t0 = Date.now();
    await state.settle(key, ok, t0);
    const day = 86_400_000;
    expect(await redis.pttl(key)).toBeGreaterThan(day - 60_000);
    // An hour later, with 13 hours of expiry left: no renewal.
    await redis.pexpire(key, 13 * hour * 1000);
    await state.settle(key, ok, t0 + 11 * hour * 1000);
    expect(await redis.pttl(key)).toBeLessThanOrEqual(13 * hour * 1000);
    // At the boundary from the other side: 12 hours and a millisecond later it is renewed, a day.
    await state.settle(key, ok, t0 + 12 * hour * 1000 + 1);
    expect(await redis.pttl(key)).toBeGreaterThan(day - 60_000);
    // Exactly 12 hours left by expires_at is not renewed (the bound is "less than half a day").
    const expiresAt = Number(await redis.hget(key, 'expires_at'));
    await redis.pexpire(key, hour * 1000);
    await state.settle(key, ok, expiresAt - 12 * hour * 1000);
    expect(await redis.pttl(key)).toBeLessThanOrEqual(hour * 1000);
    await redis.del(key);
  });
});
