import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Anthropic from '@anthropic-ai/sdk';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from 'vitest';
import { type Simulator, startSimulator } from '../../packages/anthropic-simulator/src/index.js';
import { chooseVia } from '../../src/cli/backfill-run.js';
import { defaults } from '../../src/core/defaults.js';
import { defaultJobLimits } from '../../src/core/job-schema.js';
import { BatchRun } from '../../src/producer/backfill/batch-run.js';
import type { BatchRunOptions } from '../../src/producer/backfill/batch-types.js';
import type { LineDefaults } from '../../src/producer/backfill/parse.js';
import { PromptQueue } from '../../src/producer/queue.js';
import { PriceTable } from '../../src/providers/anthropic/pricing.js';
import { AnthropicProvider } from '../../src/providers/anthropic/provider.js';
import { updateBatch } from '../../src/store/batch-store.js';
import { periodIds, readSpend, toNano } from '../../src/store/budget-store.js';
import { scopedJobId } from '../../src/store/keys.js';
import { TenantStore } from '../../src/store/tenant-store.js';
import { uniqueQueue } from '../helpers/stack.js';

const d: LineDefaults = { tenant: undefined, priority: 500, idPrefix: '', limits: defaultJobLimits };
const line = (i: number) =>
  JSON.stringify({
    id: `job-${i}`,
    model: 'claude-haiku-4-5',
    max_tokens: 10,
    prompt: `p${i} ${'x'.repeat(200)}`,
  });

describe('BatchRun (the simulator, real Redis)', () => {
  const redis = new Redis(inject('redisUrl'), { maxRetriesPerRequest: null });
  let dir: string;
  let sim: Simulator;
  const queues: PromptQueue[] = [];
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'promptq-batchrun-'));
    sim = await startSimulator({ batches: { processingSeconds: 0.3 } });
  });
  afterEach(async () => {
    for (const q of queues.splice(0)) {
      await q.queue.obliterate({ force: true });
      const keys = await redis.keys(`${q.keys.base}:promptq:*`);
      if (keys.length > 0) await redis.del(...keys);
      await q.close();
    }
    sim.reset();
  });
  afterAll(async () => {
    redis.disconnect();
    await sim.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const setup = (n: number, over: Partial<BatchRunOptions> = {}) => {
    const path = join(dir, `${uniqueQueue()}.jsonl`);
    writeFileSync(path, `${Array.from({ length: n }, (_, i) => line(i + 1)).join('\n')}\n`);
    const queue = new PromptQueue({ connection: redis, queue: uniqueQueue() });
    queues.push(queue);
    const client = new Anthropic({ apiKey: 'k', baseURL: sim.url, maxRetries: 0 });
    const o: BatchRunOptions = {
      provider: new AnthropicProvider({ client }),
      redis,
      queue,
      prices: new PriceTable(),
      retry: 'none',
      poll: { minMs: 100, maxMs: 300 },
      keepCompletedSeconds: 3600,
      keepFailedSeconds: 3600,
      ...over,
    };
    return { path, queue, client, o };
  };
  const apiBatches = async (client: Anthropic) => {
    const all: Anthropic.Messages.MessageBatch[] = [];
    for await (const b of client.messages.batches.list({ limit: 100 })) all.push(b);
    return all;
  };

  it('splits by requests and by bytes, within the limits given', async () => {
    const { path, client, o, queue } = setup(50, { batchSize: 20 });
    const s = await new BatchRun(path, d, o).run();
    expect(s).toMatchObject({ batches: 3, submitted: 50, succeeded: 50 });
    expect((await apiBatches(client)).map((b) => b.request_counts.succeeded).sort()).toEqual([10, 20, 20]);
    expect(await queue.queue.getCompletedCount()).toBe(50);
    // A job finished in a batch reads like one a worker finished.
    const view = await queue.get('job-7');
    if (view === null) throw new Error('job-7 is missing');
    expect(view).toMatchObject({ id: 'job-7', state: 'completed', error: null });
    expect(view.request.messages[0]?.content).toMatch(/^p7 /);
    expect((view.result as Anthropic.Message).usage.service_tier).toBe('batch');
    expect(view.record).toMatchObject({ attempts: 1, latency_ms: null, status_code: 200, error_type: null });
    expect(view.record.cost_usd).toBeGreaterThan(0);

    sim.reset();
    // ~300 bytes per request: 2,000 bytes hold 6 of them.
    const small = setup(20, { batchBytes: 2000 });
    const t = await new BatchRun(small.path, d, small.o).run();
    expect(t.batches).toBe(4);
    expect((await apiBatches(small.client)).map((b) => b.request_counts.succeeded).sort()).toEqual([
      2, 6, 6, 6,
    ]);
  });

  it('a run killed between the API accepting a batch and Redis recording it adopts that batch on resume', async () => {
    const { path, client, o, queue } = setup(30);
    // The API accepts, then the process "dies" before it writes the batch id.
    const dying = new Proxy(client, {
      get(target, prop) {
        if (prop !== 'messages') return Reflect.get(target, prop);
        return {
          batches: {
            create: async (...args: Parameters<typeof client.messages.batches.create>) => {
              await client.messages.batches.create(...args);
              throw new Error('killed');
            },
          },
        };
      },
    });
    await expect(
      new BatchRun(path, d, { ...o, provider: new AnthropicProvider({ client: dying }) }).run(),
    ).rejects.toThrow('killed');
    expect(await apiBatches(client)).toHaveLength(1);
    expect(await redis.zcard(queue.keys.batches)).toBe(0);

    const events: string[] = [];
    const s = await new BatchRun(path, d, { ...o, onBatch: (e) => events.push(e.event) }).run();
    expect(events[0]).toBe('adopted');
    expect(s).toMatchObject({ submitted: 0, resumed: 30, succeeded: 30 });
    expect(await apiBatches(client)).toHaveLength(1);
    expect(await redis.hlen(queue.keys.batchIntents)).toBe(0);

    // A third run finds every job done and asks the API for nothing new.
    const again = await new BatchRun(path, d, o).run();
    expect(again).toMatchObject({ submitted: 0, already_there: 30, succeeded: 0 });
  });

  it("a run killed between writing a batch's jobs and settling their holds settles them, once, when run again", async () => {
    const { path, client, o, queue } = setup(5);
    const k = queue.keys;
    await new TenantStore(redis, k).add('acme', { dailyUsd: 10 });
    const acme = { ...d, tenant: 'acme' };
    expect(await new BatchRun(path, acme, o).run()).toMatchObject({ submitted: 5, succeeded: 5 });
    const spent = async () => toNano((await readSpend(redis, k, ['acme'])).get('acme')?.day ?? 0);
    const full = await spent();
    expect(await redis.hlen(k.budgetHolds('acme'))).toBe(0);
    // The state a kill right after finish-batch-jobs leaves: job-3 written, its hold not settled,
    // the batch not marked collected.
    const view = await queue.get({ id: 'job-3', tenant: 'acme' });
    const cost = toNano(view?.record.cost_usd ?? Number.NaN);
    expect(cost).toBeGreaterThan(0);
    const p = periodIds(Date.now());
    await redis.decrby(k.budgetSpent('acme', 'day', p.day), cost);
    await redis.decrby(k.budgetSpent('acme', 'month', p.month), cost);
    const hold = `batch:${scopedJobId('job-3', 'acme')}`;
    await redis.hset(k.budgetHolds('acme'), hold, `${cost * 2} ${p.day} ${p.month} ${Date.now() + 3600_000}`);
    const [batch] = await apiBatches(client);
    await updateBatch(redis, k, batch!.id, { collected: false });
    expect(await spent()).toBe(full - cost);

    // Run again: the batch is collected again, job-3 is not written twice, its hold is settled once.
    const again = await new BatchRun(path, acme, o).run();
    expect(again).toMatchObject({ submitted: 0, succeeded: 0 });
    expect(await redis.hexists(k.budgetHolds('acme'), hold)).toBe(0);
    expect(await spent()).toBe(full);
    // A third run finds nothing held and charges nothing more.
    await updateBatch(redis, k, batch!.id, { collected: false });
    await new BatchRun(path, acme, o).run();
    expect(await spent()).toBe(full);
  });

  it('an intent the API never accepted is dropped and its lines are submitted', async () => {
    const { path, client, o, queue } = setup(5);
    await redis.hset(
      queue.keys.batchIntents,
      'lost',
      JSON.stringify({ at: Date.now(), round: 0, ids: ['job-1'] }),
    );
    const s = await new BatchRun(path, d, o).run();
    expect(s).toMatchObject({ submitted: 5, succeeded: 5 });
    expect(await apiBatches(client)).toHaveLength(1);
    expect(await redis.hlen(queue.keys.batchIntents)).toBe(0);
  });
});

describe('--via auto', () => {
  it('batches for a large file unless the deadline is under 24 h', () => {
    expect(chooseVia({ via: 'auto' }, 999, defaults.backfill)).toBe('live');
    expect(chooseVia({ via: 'auto' }, 1000, defaults.backfill)).toBe('batches');
    expect(chooseVia({ via: 'auto', deadline: 6 * 3600 }, 50_000, defaults.backfill)).toBe('live');
    expect(chooseVia({ via: 'auto', deadline: 24 * 3600 }, 50_000, defaults.backfill)).toBe('batches');
    expect(chooseVia({ via: 'live' }, 50_000, defaults.backfill)).toBe('live');
    expect(chooseVia({ via: 'batches' }, 1, defaults.backfill)).toBe('batches');
  });
});
