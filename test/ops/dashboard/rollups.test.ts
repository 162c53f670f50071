import { afterAll, describe, expect, it } from 'vitest';
import { resolveConfig } from '../../../src/core/config.js';
import { defaults } from '../../../src/core/defaults.js';
import { newRecord } from '../../../src/core/record.js';
import { parseSince, readDashboard } from '../../../src/ops/dashboard/summary.js';
import { RollupWriter, rollupLingerMs, slowestKept } from '../../../src/ops/metrics/rollups.js';
import { uniqueQueue } from '../../helpers/stack.js';
import { testKeys, testRedis } from '../../helpers/topology.js';

describe('rollups in Redis', () => {
  // This run's Redis, whatever its topology (its keys hash-tagged on a cluster).
  const redis = testRedis();
  afterAll(() => redis.disconnect());

  const finished = (at: number, totalMs: number) => {
    const r = newRecord(
      { model: 'claude-haiku-4-5', max_tokens: 100, messages: [], tenant_id: 'acme' },
      at - totalMs,
    );
    return {
      ...r,
      finished_at: new Date(at).toISOString(),
      total_ms: totalMs,
      latency_ms: totalMs / 2,
      output_tokens: 40,
      cost_usd: 0.000123,
      attempts: 1,
    };
  };

  it('every key expires (retention), and the slowest set stays capped', async () => {
    const queue = uniqueQueue();
    const w = new RollupWriter({
      connection: redis,
      keys: testKeys(queue),
      retention: defaults.rollups,
      tenantLabel: (t) => t ?? 'none',
      modelLabel: (m) => m,
    });
    const now = Date.now();
    for (let i = 0; i < slowestKept + 5; i++) await w.record(`j${i}`, 'completed', finished(now, 100 + i));
    const minute = Math.floor(now / 60_000);
    const k = testKeys(queue);
    const keys = [
      k.rollupMinute(minute),
      k.rollupDay(new Date(now).toISOString().slice(0, 10)),
      k.slowest(Math.floor(minute / 60)),
    ];
    for (const k of keys) {
      const ttl = await redis.ttl(k);
      expect(ttl, k).toBeGreaterThan(3600);
      expect(ttl, k).toBeLessThanOrEqual(40 * 86400);
    }
    expect(await redis.zcard(k.slowest(Math.floor(minute / 60)))).toBe(slowestKept);
    const d = await readDashboard(redis, testKeys(queue), 60, now);
    expect(d.totals.jobs).toBe(slowestKept + 5);
    // Micro-dollar integers: 25 × $0.000123 adds up exactly.
    expect(d.totals.cost_usd).toBe(0.003075);
    expect(d.slowest[0]?.id).toBe(`j${slowestKept + 4}`);
    expect(d.slowest).toHaveLength(10);
  });

  it('a batch of thousands in one group commit: counted whole, its slowest kept (one past the cap is not)', async () => {
    const queue = uniqueQueue();
    const w = new RollupWriter({
      connection: redis,
      keys: testKeys(queue),
      retention: defaults.rollups,
      tenantLabel: (t) => t ?? 'none',
      modelLabel: (m) => m,
    });
    const now = Date.now();
    const n = 5000;
    // Recorded together: they go in one or two writes, each far more calls than a Lua unpack takes.
    await Promise.all(
      Array.from({ length: n }, (_, i) => w.record(`b${i}`, 'completed', finished(now, 1000 + i))),
    );
    const k = testKeys(queue);
    const minute = Math.floor(now / 60_000);
    expect((await readDashboard(redis, testKeys(queue), 60, now)).totals.jobs).toBe(n);
    const kept = await redis.zrevrange(k.slowest(Math.floor(minute / 60)), 0, -1);
    expect(kept).toHaveLength(slowestKept);
    const ids = kept.map((m) => (JSON.parse(m) as { id: string }).id);
    expect(ids[0]).toBe(`b${n - 1}`);
    expect(ids.at(-1)).toBe(`b${n - slowestKept}`);
    expect(ids).not.toContain(`b${n - slowestKept - 1}`);
  });

  it("jobs that finish within the linger go in the first one's write (a busy worker writes a few times a second, not per job)", async () => {
    const queue = uniqueQueue();
    const w = new RollupWriter({
      connection: redis,
      keys: testKeys(queue),
      retention: defaults.rollups,
      tenantLabel: (t) => t ?? 'none',
      modelLabel: (m) => m,
    });
    const now = Date.now();
    const t0 = Date.now();
    const first = w.record('l0', 'completed', finished(now, 10));
    // What Redis holds the moment the first job's write is done (read before any later write).
    const atFirst = first.then(() => readDashboard(redis, testKeys(queue), 60, now));
    // More jobs finish a few ms apart, each after Redis could have answered a write of the first.
    let inTime = 1;
    const later: Array<Promise<void>> = [];
    while (Date.now() - t0 < rollupLingerMs / 2) {
      await new Promise((r) => setTimeout(r, 5));
      if (Date.now() - t0 >= rollupLingerMs) break;
      later.push(w.record(`l${inTime}`, 'completed', finished(now, 10)));
      inTime += 1;
    }
    // The first job's write carried every job that finished before its linger ran out.
    expect(inTime).toBeGreaterThan(2);
    expect((await atFirst).totals.jobs).toBe(inTime);
    await Promise.all(later);
    expect((await readDashboard(redis, testKeys(queue), 60, now)).totals.jobs).toBe(inTime);
  });

  it('a job that finished before the range is not in it', async () => {
    const queue = uniqueQueue();
    const w = new RollupWriter({
      connection: redis,
      keys: testKeys(queue),
      retention: defaults.rollups,
      tenantLabel: (t) => t ?? 'none',
      modelLabel: (m) => m,
    });
    const now = Date.now();
    await w.record('old', 'completed', finished(now - 2 * 3600_000, 50));
    await w.record('new', 'completed', finished(now, 50));
    const hour = await readDashboard(redis, testKeys(queue), 60, now);
    expect(hour.totals.jobs).toBe(1);
    expect(hour.slowest.map((c) => c.id)).toEqual(['new']);
    const day = await readDashboard(redis, testKeys(queue), 1440, now);
    expect(day.totals.jobs).toBe(2);
    expect(day.step_seconds).toBe(15 * 60);
  });

  it('retention settings and durations are checked, naming the field', () => {
    // The retention is the configuration's, checked once there, at its bounds from both sides.
    expect(() => resolveConfig({ rollups: { minuteRetentionSeconds: 3599 } })).toThrow(
      /^rollups\.minuteRetentionSeconds: must be between 3600 and /,
    );
    expect(resolveConfig({ rollups: { minuteRetentionSeconds: 3600 } }).rollups.minuteRetentionSeconds).toBe(
      3600,
    );
    expect(() => resolveConfig({ rollups: { dayRetentionSeconds: 86_399 } })).toThrow(
      /^rollups\.dayRetentionSeconds: /,
    );
    expect(resolveConfig({ rollups: { dayRetentionSeconds: 86_400 } }).rollups.dayRetentionSeconds).toBe(
      86_400,
    );
    expect(parseSince('90m')).toBe(90);
    expect(parseSince('24h')).toBe(1440);
    expect(parseSince('1d')).toBe(1440);
    expect(() => parseSince('2d')).toThrow(/^since: must be between 1m and 26h/);
    expect(() => parseSince('soon')).toThrow(/^since: expected a duration/);
  });
});
