import { afterAll, describe, expect, it } from 'vitest';
import {
  periodEnd,
  periodIds,
  readSpend,
  reserveBudget,
  settleBudget,
  settleBudgetById,
} from '../../src/store/budget-store.js';
import { Keyspace } from '../../src/store/keys.js';
import { TenantStore } from '../../src/store/tenant-store.js';
import { uniqueQueue } from '../helpers/stack.js';
import { testKeys, testRedis } from '../helpers/topology.js';
import { hashTagOf } from './slot.js';

const hold = { holdMs: 60_000 };

describe('tenant budgets in Redis (budget-reserve / budget-settle)', () => {
  // This run's Redis, whatever its topology (its keys hash-tagged on a cluster).
  const redis = testRedis();
  afterAll(() => redis.disconnect());

  it('admits while spend + holds + the call fit, refuses past it, and settles to the real cost', async () => {
    const k = testKeys(uniqueQueue());
    const store = new TenantStore(redis, k);
    await store.add('acme', { dailyUsd: 1, monthlyUsd: 10 });
    const now = Date.UTC(2026, 10, 27, 12);
    const a = await reserveBudget(redis, k, 'acme', 0.6, { ...hold, id: 'a', now });
    expect(a.kind).toBe('held');
    // 0.6 held + 0.5 > 1: refused, though nothing is spent yet.
    const b = await reserveBudget(redis, k, 'acme', 0.5, { ...hold, id: 'b', now });
    expect(b).toMatchObject({ kind: 'over', period: 'day', spentUsd: 0, heldUsd: 0.6, budgetUsd: 1 });
    // Exactly the budget fits (whole nano-USD, no float drift).
    expect((await reserveBudget(redis, k, 'acme', 0.4, { ...hold, id: 'c', now })).kind).toBe('held');
    if (a.kind !== 'held') throw new Error('held');
    await settleBudget(redis, k, a.hold, 0.1);
    // 0.1 spent + 0.4 held + 0.5 = 1: fits now.
    expect((await reserveBudget(redis, k, 'acme', 0.5, { ...hold, id: 'd', now })).kind).toBe('held');
    expect((await readSpend(redis, k, ['acme'], now)).get('acme')).toEqual({ day: 0.1, month: 0.1 });
    // The monthly budget refuses too, and says so.
    await store.set('acme', { dailyUsd: null, monthlyUsd: 0.5 });
    const m = await reserveBudget(redis, k, 'acme', 0.05, { ...hold, id: 'e', now });
    expect(m).toMatchObject({ kind: 'over', period: 'month', onExceed: 'wait' });
    // Unknown tenants have no budget and hold nothing.
    expect(await reserveBudget(redis, k, 'nobody', 99, { ...hold, id: 'f', now })).toEqual({
      kind: 'unknown',
    });
    expect(await redis.exists(k.budgetHolds('nobody'))).toBe(0);
  });

  it("a dead worker's hold stops counting after holdMs", async () => {
    const k = testKeys(uniqueQueue());
    await new TenantStore(redis, k).add('t', { dailyUsd: 1 });
    const now = Date.UTC(2026, 10, 27, 12);
    expect((await reserveBudget(redis, k, 't', 0.9, { holdMs: 1000, id: 'dead', now })).kind).toBe('held');
    expect((await reserveBudget(redis, k, 't', 0.9, { holdMs: 1000, id: 'x', now: now + 999 })).kind).toBe(
      'over',
    );
    expect((await reserveBudget(redis, k, 't', 0.9, { holdMs: 1000, id: 'y', now: now + 1000 })).kind).toBe(
      'held',
    );
  });

  it('periods roll over at UTC midnight and month end; spend survives a new connection; TTLs pass the period', async () => {
    const k = testKeys(uniqueQueue());
    await new TenantStore(redis, k).add('t', { dailyUsd: 1, monthlyUsd: 1.5 });
    const lastMinute = Date.UTC(2026, 10, 30, 23, 59);
    const r = await reserveBudget(redis, k, 't', 1, { ...hold, id: 'a', now: lastMinute });
    if (r.kind !== 'held') throw new Error('held');
    await settleBudget(redis, k, r.hold, 1);
    expect((await reserveBudget(redis, k, 't', 0.01, { ...hold, id: 'b', now: lastMinute })).kind).toBe(
      'over',
    );
    // A restart: another connection reads the same spend.
    const other = testRedis();
    try {
      expect((await readSpend(other, k, ['t'], lastMinute)).get('t')).toEqual({ day: 1, month: 1 });
    } finally {
      other.disconnect();
    }
    const nextDay = lastMinute + 2 * 60_000; // 2026-12-01: a new day and a new month
    expect(periodIds(nextDay)).toEqual({ day: '2026-12-01', month: '2026-12' });
    expect((await readSpend(redis, k, ['t'], nextDay)).get('t')).toEqual({ day: 0, month: 0 });
    expect((await reserveBudget(redis, k, 't', 1, { ...hold, id: 'c', now: nextDay })).kind).toBe('held');
    // Within a month, a new day frees the daily budget but not the monthly one.
    const k2 = testKeys(uniqueQueue());
    await new TenantStore(redis, k2).add('t', { dailyUsd: 1, monthlyUsd: 1.5 });
    const day1 = Date.UTC(2026, 10, 10, 12);
    const h = await reserveBudget(redis, k2, 't', 1, { ...hold, id: 'a', now: day1 });
    if (h.kind !== 'held') throw new Error('held');
    await settleBudget(redis, k2, h.hold, 1);
    const day2 = day1 + 24 * 3600_000;
    expect(await reserveBudget(redis, k2, 't', 0.6, { ...hold, id: 'b', now: day2 })).toMatchObject({
      kind: 'over',
      period: 'month',
    });
    expect((await reserveBudget(redis, k2, 't', 0.5, { ...hold, id: 'c', now: day2 })).kind).toBe('held');
    // The spend keys expire after their period, not before.
    const ttl = await redis.ttl(k2.budgetSpent('t', 'day', periodIds(day1).day));
    expect(ttl).toBeGreaterThan((periodEnd('day', day1) - day1) / 1000);
  });

  it('concurrent admissions on many connections never hold more than the budget', async () => {
    const k = testKeys(uniqueQueue());
    await new TenantStore(redis, k).add('t', { dailyUsd: 1 });
    const conns = Array.from({ length: 8 }, () => testRedis());
    try {
      const results = await Promise.all(
        Array.from({ length: 200 }, (_, i) =>
          reserveBudget(conns[i % conns.length]!, k, 't', 0.013, { ...hold, id: `r${i}` }),
        ),
      );
      const held = results.filter((r) => r.kind === 'held').length;
      expect(held).toBe(Math.floor(1 / 0.013)); // 76 × 0.013 = 0.988; a 77th would be 1.001
    } finally {
      for (const c of conns) c.disconnect();
    }
  });

  it('a Message Batches hold settles once, however often it is settled; holding the same id again replaces it', async () => {
    const k = testKeys(uniqueQueue());
    await new TenantStore(redis, k).add('t', { dailyUsd: 1 });
    const now = Date.UTC(2026, 10, 27, 12);
    expect((await reserveBudget(redis, k, 't', 0.6, { ...hold, id: 'batch:j', now })).kind).toBe('held');
    // Held again under its own id (a collector that died before sending): replaced, not 1.2 held.
    expect((await reserveBudget(redis, k, 't', 0.6, { ...hold, id: 'batch:j', now })).kind).toBe('held');
    // The boundary from both sides: 0.6 + 0.4 = 1 fits; 0.6 + 0.4 + 1 nano-USD does not.
    expect(await reserveBudget(redis, k, 't', 0.4 + 1e-9, { ...hold, id: 'over', now })).toMatchObject({
      kind: 'over',
      heldUsd: 0.6,
    });
    expect((await reserveBudget(redis, k, 't', 0.4, { ...hold, id: 'fits', now })).kind).toBe('held');
    // A collector settles, dies before it can say so; the next one settles the same hold again.
    await settleBudgetById(redis, k, 't', 'batch:j', 0.25, now);
    await settleBudgetById(redis, k, 't', 'batch:j', 0.25, now);
    expect((await readSpend(redis, k, ['t'], now)).get('t')).toEqual({ day: 0.25, month: 0.25 });
    // A live hold settled twice (settleBudget, no `once`) is still charged as before: the control.
    const live = await reserveBudget(redis, k, 't', 0.1, { ...hold, id: 'live', now });
    if (live.kind !== 'held') throw new Error('held');
    await settleBudget(redis, k, live.hold, 0.1);
    await settleBudget(redis, k, live.hold, 0.1);
    expect((await readSpend(redis, k, ['t'], now)).get('t')?.day).toBeCloseTo(0.45, 12);
  });

  it('with hash tags, every key a budget script touches is in the queue slot', () => {
    const k = new Keyspace({ queue: 'prompts', hashTag: true });
    const tags = [
      k.tenant('t'),
      k.budgetSpent('t', 'day', 'd'),
      k.budgetSpent('t', 'month', 'm'),
      k.budgetHolds('t'),
    ].map(hashTagOf);
    expect(new Set(tags)).toEqual(new Set(['prompts']));
  });
});
