/**
 * Spend so far and projected per tenant, for the UTC day and month (issue 28 item 5): from the
 * rollups workers write as jobs finish (real Redis), at a fixed "now", by hand: the last 24 hours'
 * spend is the daily rate, carried over what is left of the day and of the month.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { defaults } from '../../src/core/defaults.js';
import { formatUsd } from '../../src/core/format.js';
import { newRecord } from '../../src/core/record.js';
import { formatReport } from '../../src/ops/dashboard/report.js';
import { readDashboard } from '../../src/ops/dashboard/summary.js';
import { RollupWriter } from '../../src/ops/metrics/rollups.js';
import { uniqueQueue } from '../helpers/stack.js';
import { testKeys, testRedis } from '../helpers/topology.js';

const now = Date.UTC(2030, 3, 10, 12, 0); // 10 April 2030, noon UTC: 20.5 days left in April
const at = (day: number, hour: number) => Date.UTC(2030, 3, day, hour, 0);

describe('projection per tenant', () => {
  const redis = testRedis();
  const keys = testKeys(uniqueQueue());
  afterAll(async () => {
    const found = await redis.keys(`${keys.base}*`);
    if (found.length > 0) for (const k of found) await redis.del(k);
    redis.disconnect();
  });

  it('today, day end, month to date and month end, per tenant, in the report', async () => {
    const writer = new RollupWriter({
      connection: redis,
      keys,
      retention: defaults.rollups,
      tenantLabel: (t) => t ?? 'none',
      modelLabel: (m) => m,
    });
    const spend: Array<[string, number, number]> = [
      ['acme', at(3, 9), 1.0], // this month, before the last 24 h
      ['acme', at(9, 18), 0.25], // the last 24 h, yesterday
      ['acme', at(10, 6), 0.5], // the last 24 h, today
      ['globex', at(1, 0), 2.0], // the first of the month only
      ['acme', Date.UTC(2030, 2, 31, 12, 0), 7.0], // 31 March: last month, left out
    ];
    for (const [i, [tenant, finished, usd]] of spend.entries()) {
      const r = newRecord(
        { model: 'claude-haiku-4-5', max_tokens: 10, messages: [], tenant_id: tenant },
        finished,
      );
      r.finished_at = new Date(finished).toISOString();
      r.cost_usd = usd;
      await writer.record(`j${i}`, 'completed', r);
    }
    const data = await readDashboard(redis, keys, 60, now);
    const p = data.projection.tenants;
    // acme: today $0.50; rate $0.75 a day; half a day and 20.5 days left.
    expect(p.acme?.today_usd).toBeCloseTo(0.5, 9);
    expect(p.acme?.daily_rate_usd).toBeCloseTo(0.75, 9);
    expect(p.acme?.day_end_usd).toBeCloseTo(0.5 + 0.75 * 0.5, 9);
    expect(p.acme?.month_to_date_usd).toBeCloseTo(1.75, 9);
    expect(p.acme?.month_end_usd).toBeCloseTo(1.75 + 0.75 * 20.5, 9);
    // globex spent on the 1st only: nothing today, no rate, the month stays at $2.
    expect(p.globex).toEqual({
      today_usd: 0,
      day_end_usd: 0,
      month_to_date_usd: 2,
      month_end_usd: 2,
      daily_rate_usd: 0,
    });
    // The queue's projection is the tenants' sum.
    expect(data.projection.month_end_usd).toBeCloseTo(17.125 + 2, 9);
    const text = formatReport(data, 'q', '1h');
    const row = text.split('\n').find((l) => l.startsWith('acme ') && l.includes(formatUsd(17.125)));
    expect(row, text).toBeDefined();
    for (const v of [0.5, 0.875, 1.75]) expect(row).toContain(formatUsd(v));
    expect(text).toContain('Cost projection per tenant (UTC day and month)');
  });
});
