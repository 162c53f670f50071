import { readdirSync, readFileSync } from 'node:fs';
import { Redis } from 'ioredis';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { defaults } from '../../src/core/defaults.js';
import { newRecord } from '../../src/core/record.js';
import { SharedLimiterState } from '../../src/limiter/shared-state.js';
import { bullJobId, Keyspace } from '../../src/store/keys.js';
import { LockLostError, loadRecord, saveFinalRecord, saveRecord } from '../../src/store/record-store.js';
import { luaSource, resolveIncludes, script, variadicScript } from '../../src/store/scripts.js';
import { claimJobs } from '../../src/store/tenant-pending.js';
import { uniqueQueue } from '../helpers/stack.js';

describe('Lua scripts and their typed wrappers', () => {
  const redis = new Redis(inject('redisUrl'));
  afterAll(() => redis.disconnect());
  const record = newRecord({ model: 'claude-haiku-4-5', max_tokens: 5, messages: [] }, 0);

  it('every script file is named name-NUMKEYS.lua and lists its Input KEYS/ARGV and Output', () => {
    const files = readdirSync(new URL('../../src/store/lua/', import.meta.url), { withFileTypes: true })
      .filter((e) => e.isFile())
      .map((e) => e.name);
    expect(files.length).toBeGreaterThanOrEqual(7);
    for (const f of files) {
      expect(f).toMatch(/^[a-z]+(-[a-z]+)*-(\d+|N)\.lua$/);
      const head = luaSource(f).split(']]')[0] ?? '';
      expect(head, f).toMatch(/Input[^:]*:/);
      expect(head, f).toMatch(/KEYS\[1\]/);
      expect(head, f).toMatch(/Output:/);
    }
    expect(() => script('save-record-1.lua', ['a', 'b'], [], Number)).toThrow(/declared with 2 keys/);
    expect(() => variadicScript('save-record-1.lua', Number)).toThrow(/-N\.lua/);
  });

  it('includes: the header learning is one file, resolved into both limiter scripts that run it, once each', () => {
    const shared = 'local function learn_headers(';
    for (const f of ['limiter-observe-1.lua', 'limiter-settle-1.lua']) {
      const src = luaSource(f);
      expect(src.split(shared).length - 1, f).toBe(1);
      expect(src.split('local function load_hash(').length - 1, f).toBe(1);
      expect(src, f).not.toMatch(/^--- @include/m);
    }
    // Written by hand in no script: only the include defines it.
    const files = readdirSync(new URL('../../src/store/lua/', import.meta.url)).filter((f) =>
      f.endsWith('.lua'),
    );
    for (const f of files) {
      const raw = readFileSync(new URL(`../../src/store/lua/${f}`, import.meta.url), 'utf8');
      expect(raw.includes(shared), f).toBe(false);
    }
    // An include named twice is inlined once; an unknown one is an error naming the script.
    const twice = resolveIncludes('--- @include "limiter-hash"\n--- @include "limiter-hash"\n', 'x.lua');
    expect(twice.split('local function load_hash(').length - 1).toBe(1);
    expect(() => resolveIncludes('--- @include "no-such-file"\n', 'x.lua')).toThrow(
      /x\.lua: no include\/no-such-file\.lua/,
    );
  });

  it('named arguments: the limiter scripts take one JSON object, no positional ARGV past the first', () => {
    for (const f of [
      'limiter-admit-2.lua',
      'limiter-observe-1.lua',
      'limiter-settle-1.lua',
      'limiter-share-refund-1.lua',
    ]) {
      const body = luaSource(f).split(']]').slice(1).join(']]');
      expect(body, f).toContain('cjson.decode(ARGV[1])');
      expect(body.match(/ARGV\[(\d+)\]/g) ?? [], f).toEqual(['ARGV[1]']);
    }
  });

  it('save-record writes only into an existing job; save-final-record only with the lock', async () => {
    const k = new Keyspace({ queue: uniqueQueue() });
    const id = 'j1';
    expect(await saveRecord(redis, k.job(id), record)).toBe(false);
    expect(await redis.exists(k.job(id))).toBe(0);
    await redis.hset(k.job(id), 'data', '{}');
    expect(await saveRecord(redis, k.job(id), record)).toBe(true);
    expect(await loadRecord(redis, k.job(id))).toEqual(record);
    await redis.set(k.jobLock(id), 'token-a');
    await redis.hset(k.tenantPending, '', 5);
    const done = { ...record, attempts: 1 };
    const final = (r: typeof record, token: string | undefined) =>
      saveFinalRecord(redis, k.job(id), k.tenantPending, r, token, id);
    // Not our lock: nothing written, nothing counted.
    await expect(final(done, 'token-b')).rejects.toBeInstanceOf(LockLostError);
    expect((await loadRecord(redis, k.job(id)))?.attempts).toBe(0);
    expect(await redis.hget(k.tenantPending, '')).toBe('5');
    expect(await final(done, 'token-a')).toBe(true);
    expect((await loadRecord(redis, k.job(id)))?.attempts).toBe(1);
    expect(await redis.hget(k.tenantPending, '')).toBe('4');
    // No token (manual processing): no lock to check.
    expect(await final(record, undefined)).toBe(true);
    expect(await redis.hget(k.tenantPending, '')).toBe('3');
    await redis.del(k.job(id), k.jobLock(id), k.tenantPending);
  });

  it('claim-jobs: claims new ids once, ranks them per tenant, leaves existing and busy ids alone', async () => {
    const k = new Keyspace({ queue: uniqueQueue() });
    await redis.hset(k.job(bullJobId('old')), 'data', '{}');
    const jobs = [
      { id: 'a', tenant: 'acme' },
      { id: 'b', tenant: 'acme' },
      { id: 'c', tenant: '' },
      { id: 'old', tenant: 'acme' },
    ];
    expect(await claimJobs(redis, k, jobs, 30_000)).toEqual([
      { kind: 'claimed', rank: 0 },
      { kind: 'claimed', rank: 1 },
      { kind: 'claimed', rank: 0 },
      { kind: 'exists' },
    ]);
    expect(await redis.hgetall(k.tenantPending)).toEqual({ acme: '2', '': '1' });
    expect(await redis.ttl(k.tenantPending)).toBeGreaterThan(23 * 3600);
    // A second submitter of `a` while the first is still adding it; a new job of acme ranks third.
    expect(
      await claimJobs(
        redis,
        k,
        [
          { id: 'a', tenant: 'acme' },
          { id: 'd', tenant: 'acme' },
        ],
        30_000,
      ),
    ).toEqual([{ kind: 'busy' }, { kind: 'claimed', rank: 2 }]);
    expect(await redis.pttl(k.claim('a'))).toBeGreaterThan(29_000);
    // The claim expires by itself.
    expect(await claimJobs(redis, k, [{ id: 'e', tenant: 'x' }], 50)).toEqual([{ kind: 'claimed', rank: 0 }]);
    await new Promise((r) => setTimeout(r, 120));
    expect(await redis.exists(k.claim('e'))).toBe(0);
    expect(await claimJobs(redis, k, [], 1000)).toEqual([]);
    await redis.del(k.tenantPending, k.job('old'), ...['a', 'b', 'c', 'd'].map((i) => k.claim(i)));
  });

  it("the final save counts the job's tenant down, never below zero, even for a job already removed", async () => {
    const k = new Keyspace({ queue: uniqueQueue() });
    const acme = { ...record, tenant_id: 'acme' };
    await redis.hset(k.tenantPending, 'acme', 2);
    await redis.hset(k.job('a'), 'data', '{}');
    expect(await saveFinalRecord(redis, k.job('a'), k.tenantPending, acme, undefined, 'a')).toBe(true);
    expect(await redis.hget(k.tenantPending, 'acme')).toBe('1');
    // The job is gone (removed meanwhile): no record written, the tenant still counted down.
    expect(await saveFinalRecord(redis, k.job('b'), k.tenantPending, acme, undefined, 'b')).toBe(false);
    expect(await redis.exists(k.job('b'))).toBe(0);
    expect(await redis.hexists(k.tenantPending, 'acme')).toBe(0);
    await saveFinalRecord(redis, k.job('a'), k.tenantPending, acme, undefined, 'a');
    expect(await redis.hexists(k.tenantPending, 'acme')).toBe(0);
    await redis.del(k.job('a'));
  });

  it('the limiter scripts take their tuning from the caller (config.limiter.tuning), not from numbers in Lua', async () => {
    const key = `test:limiter:${uniqueQueue()}`;
    const rl = {
      outcome: 'rate_limited' as const,
      refundInputTokens: 0,
      refundOutputTokens: 0,
      inRatioSample: null,
      headersSeen: true,
    };
    // cautionMs 500: the second 429 below comes 1 s after the first episode ended, so no caution.
    const s = new SharedLimiterState(redis, {
      ...defaults.limiter.tuning,
      decreaseFactor: 0.5,
      burstDecrease: 0.5,
      minBurstMs: 300,
      cautionMs: 500,
    });
    await s.observe(
      key,
      { requests: 600, input_tokens: undefined, output_tokens: undefined },
      { requests: 600, input_tokens: undefined, output_tokens: undefined },
      { requests: 0, input_tokens: 0, output_tokens: 0 },
      0,
    );
    expect(await s.settle(key, { ...rl, retryAfterMs: null }, 1000)).toEqual({
      pausedUntil: 2000,
      factor: 0.5,
    });
    expect((await s.read(key)).burstMs).toBe(500);
    await s.settle(key, { ...rl, retryAfterMs: 10 }, 3000);
    expect((await s.read(key)).burstMs).toBe(300);
    const t = new SharedLimiterState(redis, {
      ...defaults.limiter.tuning,
      recoveryStep: 0.25,
      burstRecoveryMs: 100,
      inRatioWeight: 0.5,
    });
    await t.settle(key, { ...rl, outcome: 'success', retryAfterMs: null, inRatioSample: 2 }, 4000);
    await t.settle(key, { ...rl, outcome: 'success', retryAfterMs: null, inRatioSample: 1 }, 4001);
    const st = await t.read(key);
    // 0.5, then 0.25 floored at minFactor 0.3, then two recoveries of 0.25.
    expect(st.factor).toBeCloseTo(0.8, 10);
    expect(st.burstMs).toBe(500);
    expect(st.inRatio).toBe(1.5);
    // Two episodes 500 ms apart under cautionMs 1000: cautious, recovering by the caller's step.
    const c = new SharedLimiterState(redis, {
      ...defaults.limiter.tuning,
      cautionMs: 1000,
      cautiousRecoveryStep: 0.125,
    });
    await c.settle(key, { ...rl, retryAfterMs: 10 }, 5000);
    await c.settle(key, { ...rl, retryAfterMs: 10 }, 5510);
    const before = (await c.read(key)).factor;
    await c.settle(key, { ...rl, outcome: 'success', retryAfterMs: null }, 5600);
    expect((await c.read(key)).factor).toBeCloseTo(before + 0.125, 10);
    const p = new SharedLimiterState(redis, {
      ...defaults.limiter.tuning,
      pauseWithoutRetryAfterMs: 7000,
    });
    expect((await p.settle(key, { ...rl, retryAfterMs: null }, 10_000)).pausedUntil).toBe(17_000);
    await redis.del(key);
  });

  it('defines each command once per connection', async () => {
    const k = new Keyspace({ queue: uniqueQueue() });
    await saveRecord(redis, k.job('x'), record);
    const names = Object.keys(redis).length;
    await saveRecord(redis, k.job('x'), record);
    expect(Object.keys(redis).length).toBe(names);
    expect(typeof (redis as unknown as Record<string, unknown>).promptqSaveRecord).toBe('function');
  });
});
