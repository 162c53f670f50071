import { Redis } from 'ioredis';
import { afterEach, describe, expect, it } from 'vitest';
import type { ServedResponse } from '../../packages/anthropic-simulator/src/index.js';
import type { JobRecord } from '../../src/core/record.js';
import { readSpend } from '../../src/store/budget-store.js';
import { Keyspace } from '../../src/store/keys.js';
import { TenantStore } from '../../src/store/tenant-store.js';
import { redisRecords, retryRefusedWrites } from '../../src/worker/records.js';
import { TestRedis } from '../helpers/redis-server.js';
import { type Stack, startStack, uniqueQueue } from '../helpers/stack.js';
import { until } from './helpers.js';

/**
 * Redis refusing writes (issue 23, item 10), on a real redis-server of the test's own: out of memory
 * (`CONFIG SET maxmemory 1`, `noeviction`) while four API calls are in flight, then a read-only
 * replica (`REPLICAOF`). Enqueues answer `503` with `Retry-After`, the log says so once (repeats
 * counted), and the calls the API answered during the outage are recorded and charged once Redis
 * takes writes again: their cost and the tenant's spend match what the simulator itself served,
 * priced here from the published price (claude-haiku-4-5: $1 / $5 per million input / output
 * tokens), not from promptq's records.
 */
const price = { input: 1 / 1e6, output: 5 / 1e6 };

interface View {
  state: string;
  record: { cost_usd: number | null; input_tokens: number; output_tokens: number };
  error: unknown;
}

describe('chaos: Redis out of memory, Redis read-only', () => {
  let own: TestRedis;
  let other: TestRedis | undefined;
  let admin: Redis;
  let s: Stack | undefined;
  afterEach(async () => {
    await admin?.config('SET', 'maxmemory', '0').catch(() => {});
    await s?.close();
    admin?.disconnect();
    await own?.destroy();
    await other?.destroy();
  });

  it('OOM: enqueues 503 + Retry-After, one log line; calls answered meanwhile are recorded and charged once Redis takes writes', async () => {
    own = new TestRedis();
    await own.start();
    admin = new Redis(own.url);
    const served: ServedResponse[] = [];
    s = await startStack({
      sim: { seed: 23, ttftMs: 1500, msPerToken: 5, output: { cap: 40 }, onServed: (r) => served.push(r) },
      env: {
        REDIS_URL: own.url,
        PROMPTQ_REDIS_MODE: 'single',
        PROMPTQ_REDIS_TIMEOUT_MS: '1000',
        PROMPTQ_CONCURRENCY: '8',
      },
    });
    const keys = s.svc.queue.keys;
    await new TenantStore(admin, keys).add('acme', { dailyUsd: 100, onExceed: 'fail' });
    const job = (i: number) => ({
      model: 'claude-haiku-4-5',
      max_tokens: 40,
      prompt: `oom ${i}`,
      tenant_id: 'acme',
    });
    const post = (body: unknown) =>
      fetch(`${s!.url}/v1/jobs`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
        signal: AbortSignal.timeout(15_000),
      });
    const ids: string[] = [];
    for (let i = 0; i < 4; i++) ids.push(((await (await post(job(i))).json()) as { id: string }).id);
    await until(() => s!.sim.stats().inFlight === 4, 'the four calls to be in flight', 20_000);

    // Redis full: every write refused with OOM (reads still answer).
    await admin.config('SET', 'maxmemory-policy', 'noeviction');
    await admin.config('SET', 'maxmemory', '1');
    const refused: Array<{ status: number; type?: string; retryAfter: string | null; ms: number }> = [];
    for (let i = 0; i < 20; i++) {
      const t = Date.now();
      const res = await post(job(100 + i));
      const body = (await res.json()) as { error?: { type: string } };
      refused.push({
        status: res.status,
        type: body.error?.type,
        retryAfter: res.headers.get('retry-after'),
        ms: Date.now() - t,
      });
    }
    // The four calls end at the simulator while Redis still refuses their records and charges.
    await until(
      () => served.filter((r) => r.outcome === 'completed').length === 4,
      'the four calls answered',
      20_000,
    );
    await new Promise((r) => setTimeout(r, 1500));
    const duringOutage = await Promise.all(
      ids.map(async (id) => ((await (await fetch(`${s!.url}/v1/jobs/${id}`)).json()) as View).state),
    );
    await admin.config('SET', 'maxmemory', '0');

    const views = new Map<string, View>();
    await until(
      async () => {
        for (const id of ids) views.set(id, (await (await fetch(`${s!.url}/v1/jobs/${id}`)).json()) as View);
        return [...views.values()].every((v) => v.state === 'completed' || v.state === 'failed');
      },
      'the four jobs to finish',
      30_000,
    );
    const lines = s.logs;
    const refusedLines = lines.filter((l) => String(l.msg).startsWith('request refused: Redis unavailable'));
    const keptLines = lines.filter((l) => String(l.msg).startsWith('Redis refused a write'));
    const usage = served.filter((r) => r.outcome === 'completed').map((r) => r.usage);
    const servedUsd = usage.reduce(
      (n, u) => n + u.input_tokens * price.input + u.output_tokens * price.output,
      0,
    );
    const recordedUsd = [...views.values()].reduce((n, v) => n + (v.record.cost_usd ?? 0), 0);
    const spent = (await readSpend(admin, keys, ['acme'])).get('acme')?.day ?? 0;
    console.log(
      `redis-oom ${JSON.stringify({
        refused: refused.map((r) => r.status),
        slowest_refusal_ms: Math.max(...refused.map((r) => r.ms)),
        refusal_log_lines: refusedLines.length,
        kept_write_log_lines: keptLines.length,
        states_during_outage: duringOutage,
        states: [...views.values()].map((v) => v.state),
        served_calls: usage.length,
        served_usd: servedUsd,
        recorded_usd: recordedUsd,
        tenant_spent_usd: spent,
      })}`,
    );

    for (const r of refused) {
      expect(r.status).toBe(503);
      expect(r.type).toBe('unavailable');
      expect(r.retryAfter).toBe('1');
      expect(r.ms).toBeLessThan(1000);
    }
    // 20 refusals (the control: the repeats happened), logged as one line (a summary comes at most
    // once per PROMPTQ_LOG_REPEAT interval, 10 s, longer than this outage).
    expect(refusedLines.length).toBe(1);
    expect(keptLines.length).toBeGreaterThanOrEqual(1);
    expect(keptLines.length).toBeLessThanOrEqual(2);
    // The answered calls waited in memory, neither failed nor lost, then completed: recorded and
    // charged what the simulator served, each called once.
    expect(duringOutage.every((st) => st === 'active')).toBe(true);
    expect([...views.values()].map((v) => v.state)).toEqual([
      'completed',
      'completed',
      'completed',
      'completed',
    ]);
    expect(usage.length).toBe(4);
    expect(servedUsd).toBeGreaterThan(0);
    expect(recordedUsd).toBeCloseTo(servedUsd, 9);
    expect(spent).toBeCloseTo(servedUsd, 9);
  }, 120_000);

  it("a job's final record refused (OOM) is kept and written once Redis has room; without the retry it is lost (control)", async () => {
    own = new TestRedis();
    await own.start();
    admin = new Redis(own.url);
    const conn = new Redis(own.url);
    try {
      const keys = new Keyspace({ queue: uniqueQueue() });
      for (const id of ['kept', 'lost']) await conn.hset(keys.job(id), 'data', '{}');
      const record = {
        model: 'claude-haiku-4-5',
        tenant_id: 'acme',
        cost_usd: 0.0042,
      } as unknown as JobRecord;
      const refusals: string[] = [];
      const kept = retryRefusedWrites(redisRecords(conn, keys), 10_000, (what, code) =>
        refusals.push(`${what}:${code}`),
      );
      await admin.config('SET', 'maxmemory-policy', 'noeviction');
      await admin.config('SET', 'maxmemory', '1');
      const control = await redisRecords(conn, keys)
        .saveFinal('lost', record, undefined)
        .then(
          () => 'written',
          (err: Error) => err.message,
        );
      let settled = false;
      const pending = kept.saveFinal('kept', record, undefined).then(() => {
        settled = true;
      });
      await new Promise((r) => setTimeout(r, 800));
      const whileFull = { settled, stored: await conn.hget(keys.job('kept'), 'record') };
      await admin.config('SET', 'maxmemory', '0');
      await pending;
      const stored = JSON.parse((await conn.hget(keys.job('kept'), 'record')) ?? 'null') as {
        cost_usd?: number;
      };
      console.log(
        `redis-oom-record ${JSON.stringify({ control, whileFull, refusals: refusals.length, stored })}`,
      );
      expect(control).toMatch(/^OOM /);
      expect(whileFull).toEqual({ settled: false, stored: null });
      expect(refusals.length).toBeGreaterThanOrEqual(2);
      expect(stored?.cost_usd).toBe(0.0042);
    } finally {
      conn.disconnect();
    }
  }, 60_000);

  it('READONLY (the Redis became a replica): enqueue 503 + Retry-After; writable again: 202 (control)', async () => {
    own = new TestRedis();
    await own.start();
    other = new TestRedis();
    await other.start();
    admin = new Redis(own.url);
    s = await startStack({ env: { REDIS_URL: own.url, PROMPTQ_REDIS_MODE: 'single' } });
    const body = { model: 'claude-haiku-4-5', max_tokens: 20, prompt: 'read-only' };
    const post = () =>
      fetch(`${s!.url}/v1/jobs`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
        signal: AbortSignal.timeout(15_000),
      });
    await admin.call('REPLICAOF', '127.0.0.1', String(other.port));
    await until(
      async () => String(await admin.info('replication')).includes('master_link_status:up'),
      'the replica to sync',
    );
    const res = await post();
    const answer = (await res.json()) as { error?: { type: string; message: string } };
    expect(res.status).toBe(503);
    expect(answer.error?.type).toBe('unavailable');
    expect(answer.error?.message).toContain('READONLY');
    expect(res.headers.get('retry-after')).toBe('1');
    await admin.call('REPLICAOF', 'NO', 'ONE');
    expect((await post()).status).toBe(202);
  }, 60_000);
});
