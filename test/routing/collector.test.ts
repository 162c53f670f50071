/**
 * The batch collector (batches/collector.ts) against the simulator's Message Batches endpoints and a
 * real Redis: a job routed `batch` is not run live but finished from its batch with a record of the
 * same fields as a live one; batches close on size and on age at their boundaries; a job at risk of
 * its deadline runs live in time and is finished once; a collector that dies mid-batch is taken
 * over after its lease and nothing is lost or doubled.
 */
import Anthropic from '@anthropic-ai/sdk';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { type Simulator, startSimulator } from '../../packages/anthropic-simulator/src/index.js';
import { Collector } from '../../src/batches/collector.js';
import { lineOf } from '../../src/batches/collector-fill.js';
import { Logger } from '../../src/core/log.js';
import type { JobRecord } from '../../src/core/record.js';
import type { RoutingConfig } from '../../src/core/settings.js';
import { PromptqEvents } from '../../src/events/emitter.js';
import { type RunningWorker, startWorker } from '../../src/ops/start-worker.js';
import { BatchBudgets } from '../../src/producer/backfill/batch-budget.js';
import { finishedBatchJob } from '../../src/producer/backfill/batch-outcome.js';
import { batchCustomId } from '../../src/producer/backfill/batch-requests.js';
import { PromptQueue } from '../../src/producer/queue.js';
import { PriceTable } from '../../src/providers/anthropic/pricing.js';
import { AnthropicProvider } from '../../src/providers/anthropic/provider.js';
import { finishDelayedJobs, jobsOf } from '../../src/store/batch-lane.js';
import { loadBatch, saveBatchIntent } from '../../src/store/batch-store.js';
import { readSpend } from '../../src/store/budget-store.js';
import { bullJobId, scopedJobId } from '../../src/store/keys.js';
import { TenantStore } from '../../src/store/tenant-store.js';
import { uniqueQueue } from '../helpers/stack.js';
import { testRedis, testSettings } from '../helpers/topology.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function job(id: string, extra: Record<string, unknown> = {}) {
  return {
    id,
    model: 'claude-haiku-4-5',
    max_tokens: 20,
    tenant_id: 'acme',
    prompt: `Say hello ${id}`,
    ...extra,
  };
}

/** A queue, a worker (its own collector off) and collectors made on demand, on one simulator. */
async function setUp(sim: Simulator, routing: Partial<RoutingConfig>) {
  const redis = testRedis();
  const queueName = uniqueQueue();
  const settings = {
    queue: queueName,
    ...testSettings(),
    routing: { batchTurnaroundSeconds: 1, liveLeadSeconds: 1, collector: false, ...routing },
  };
  const queue = new PromptQueue({ connection: redis, ...settings });
  const finished: string[] = [];
  const events = new PromptqEvents();
  events.on('finished', (e) => void finished.push(e.jobId), { blocking: true });
  const client = new Anthropic({ apiKey: 'k', baseURL: sim.url, maxRetries: 0 });
  const provider = new AnthropicProvider({ client });
  const logs: Array<Record<string, unknown>> = [];
  const log = new Logger('info', (line) => void logs.push(JSON.parse(line) as Record<string, unknown>));
  const collector = (o: { now?: () => number } = {}) =>
    new Collector({
      connection: redis,
      keys: queue.keys,
      config: queue.config,
      provider,
      prices: new PriceTable(),
      events,
      log,
      ...o,
    });
  let worker: RunningWorker | undefined;
  return {
    redis,
    queue,
    finished,
    logs,
    collector,
    provider,
    async worker() {
      worker = await startWorker({
        ...settings,
        anthropic: { apiKey: 'k', baseUrl: sim.url },
        events,
        connection: redis,
      });
      return worker;
    },
    async batchesOnSim() {
      const all = [];
      for await (const b of provider.batches!.list()) all.push(b);
      return all;
    },
    async close() {
      await worker?.close();
      await queue.queue.obliterate({ force: true });
      await queue.close();
      redis.disconnect();
    },
  };
}

type Env = Awaited<ReturnType<typeof setUp>>;

/** Tick until the job has finished (or `ms` pass). */
async function tickUntilDone(env: Env, c: Collector, id: string, ms = 15_000) {
  const until = Date.now() + ms;
  for (;;) {
    await c.tick();
    const view = await env.queue.get({ id, tenant: 'acme' });
    if (view?.state === 'completed' || view?.state === 'failed' || Date.now() > until) return view;
    await sleep(100);
  }
}

/**
 * What a collector does before it dies, done by hand: wait for the batch to end, finish every job
 * from its result (`finishDelayedJobs`, for tenant acme), and nothing after (no events, no settles).
 */
async function finishAsDeadCollector(env: Env, batchId: string) {
  while ((await env.provider.batches!.retrieve(batchId))?.status !== 'ended') await sleep(100);
  const results = new Map<string, Parameters<typeof finishedBatchJob>[1]>();
  for await (const r of env.provider.batches!.results(batchId)) results.set(r.customId, r.result);
  const stored = await loadBatch(env.redis, env.queue.keys, batchId);
  const jobs = await jobsOf(
    env.redis,
    env.queue.keys,
    stored!.jobs.map((id) => ({ id, at: 0 })),
  );
  const ended = { id: batchId, createdAt: Date.now() - 1000, endedAt: Date.now(), round: 0 };
  const retention = { completedSeconds: 3600, failedSeconds: 3600 };
  const done = jobs.map((j) => {
    const line = lineOf({ id: j.id, request: j.request! });
    const r = results.get(batchCustomId(j.id))!;
    return finishedBatchJob(line, r, ended, new PriceTable(), retention, j.enqueuedAt);
  });
  const written = await finishDelayedJobs(
    env.redis,
    env.queue.keys,
    done.map((j) => ({ ...j, tenant: 'acme' })),
  );
  return { done, written };
}

describe('batch collector', () => {
  let sim: Simulator;
  let env: Env;
  // A simulator per test: each counts only its own batches.
  beforeEach(async () => {
    sim = await startSimulator({ seed: 1, batches: { processingSeconds: 0.3, cancelSeconds: 0.1 } });
  });
  afterEach(async () => {
    await env.close();
    await sim.close();
  });

  it('a deadline job goes through a batch and its record has the fields of a live one', async () => {
    env = await setUp(sim, { batchMaxAgeSeconds: 0 });
    await new TenantStore(env.redis, env.queue.keys).add('acme', { dailyUsd: 100, onExceed: 'fail' });
    const worker = await env.worker();
    const live = await env.queue.add(job('live-1'));
    const liveView = await env.queue.wait({ id: live.id, tenant: 'acme' }, 20_000);
    const added = await env.queue.add(job('b-1', { deadline: '1h' }));
    expect(added.state).toBe('delayed');
    // Not run live: still waiting for its batch a while later.
    await sleep(500);
    expect((await env.queue.get({ id: 'b-1', tenant: 'acme' }))?.state).toBe('delayed');
    const c = env.collector();
    await c.tick();
    // Its worst case is held before the batch is sent.
    const holds = env.queue.keys.budgetHolds('acme');
    expect(await env.redis.hexists(holds, `batch:${scopedJobId('b-1', 'acme')}`)).toBe(1);
    const view = await tickUntilDone(env, c, 'b-1');
    expect(view?.state).toBe('completed');
    // Settled to the exact cost: the budget's spend is the two records' cost.
    expect(await env.redis.hlen(holds)).toBe(0);
    const spent = (await readSpend(env.redis, env.queue.keys, ['acme'])).get('acme')?.day;
    const costs = [liveView?.record, view?.record].map((r) => (r as JobRecord).cost_usd ?? Number.NaN);
    expect(spent).toBeCloseTo((costs[0] ?? 0) + (costs[1] ?? 0), 9);
    expect(costs[1]).toBeGreaterThan(0);
    // The worker's metrics count it under route="batch", at its record's cost.
    const text = await worker.metrics.registry.metrics();
    const series = text.split('\n').filter((l) => /^promptq_cost_usd_total\{.*route="batch"/.test(l));
    expect(series.reduce((sum, l) => sum + Number(l.split(' ').pop()), 0)).toBeCloseTo(costs[1] ?? 0, 9);
    const [l, b] = [liveView?.record as JobRecord, view?.record as JobRecord];
    expect(Object.keys(b).sort()).toEqual(Object.keys(l).sort());
    expect([l.route, b.route]).toEqual(['live', 'batch']);
    expect(b.cost?.batch).toBe(true);
    expect(b.stop_reason).toBe('end_turn');
    expect(env.finished.filter((id) => id === 'b-1')).toHaveLength(1);
    expect(await env.batchesOnSim()).toHaveLength(1);
  });

  it('closes a batch at batchMaxRequests, not one job before', async () => {
    env = await setUp(sim, { batchMaxRequests: 3, batchMaxAgeSeconds: 86_400 });
    const c = env.collector();
    for (const id of ['s1', 's2']) await env.queue.add(job(id, { deadline: '1h', route: 'batch' }));
    await c.tick();
    expect(await env.batchesOnSim()).toHaveLength(0);
    await env.queue.add(job('s3', { deadline: '1h', route: 'batch' }));
    await c.tick();
    const batches = await env.batchesOnSim();
    expect(batches).toHaveLength(1);
    // Its three requests, however many the simulator has processed by now (a loaded machine is slow).
    const counts: Record<string, number> = { ...batches[0]?.counts };
    expect(Object.values(counts).reduce((a, n) => a + n, 0)).toBe(3);
  });

  it('closes a batch when its oldest job is batchMaxAgeSeconds old, not a millisecond before', async () => {
    env = await setUp(sim, { batchMaxRequests: 100, batchMaxAgeSeconds: 30 });
    let clock = 0;
    const c = env.collector({ now: () => clock });
    await env.queue.add(job('a1', { deadline: '1h', route: 'batch' }));
    const at = Number((await env.redis.zrange(env.queue.keys.batchLane, 0, 0, 'WITHSCORES'))[1]);
    clock = at + 30_000 - 1;
    await c.tick();
    expect(await env.batchesOnSim()).toHaveLength(0);
    clock = at + 30_000;
    await c.tick();
    expect(await env.batchesOnSim()).toHaveLength(1);
  });

  it('a job the live route took is not finished again by its batch answer', async () => {
    env = await setUp(sim, { batchMaxAgeSeconds: 0 });
    await env.worker();
    const c = env.collector();
    await env.queue.add(job('both', { deadline: '1h', route: 'batch' }));
    await c.tick();
    expect(await env.batchesOnSim()).toHaveLength(1);
    // Its time came before the batch answered: BullMQ hands it to the live route.
    await (await env.queue.queue.getJob(bullJobId(scopedJobId('both', 'acme'))))?.promote();
    const live = await env.queue.wait({ id: 'both', tenant: 'acme' }, 20_000);
    expect(live?.state).toBe('completed');
    // The batch answers it too; collected, the answer is ignored.
    for (let i = 0; i < 50 && (await env.redis.scard(env.queue.keys.batchOpen)) > 0; i++) {
      await sleep(100);
      await c.tick();
    }
    expect(await env.redis.scard(env.queue.keys.batchOpen)).toBe(0);
    expect((await env.batchesOnSim())[0]?.counts.succeeded).toBe(1);
    const view = await env.queue.get({ id: 'both', tenant: 'acme' });
    expect((view?.record as JobRecord | undefined)?.route).toBe('live');
    expect(env.finished).toEqual(['both']);
    expect(env.logs.map((l) => l.msg)).toContain('batch result ignored: the job ran live');
  });

  it('a request the API refuses at create runs live with its own verdict; the rest of the lane is batched', async () => {
    env = await setUp(sim, { batchMaxAgeSeconds: 0 });
    await new TenantStore(env.redis, env.queue.keys).add('acme', { dailyUsd: 100, onExceed: 'fail' });
    await env.worker();
    const c = env.collector();
    // A text block with a field the API's schema does not permit: promptq forwards it, the API
    // refuses the whole batch that carries it.
    const bad = {
      prompt: undefined,
      messages: [{ role: 'user', content: [{ type: 'text', text: 'hi', bogus: 1 }] }],
    };
    const ids = ['g1', 'g2', 'g3', 'g4'];
    for (const id of ids.slice(0, 2)) await env.queue.add(job(id, { deadline: '1h', route: 'batch' }));
    await env.queue.add(job('bad', { ...bad, deadline: '1h', route: 'batch' }));
    for (const id of ids.slice(2)) await env.queue.add(job(id, { deadline: '1h', route: 'batch' }));
    // One tick: the refused request is taken out and the others go in one batch.
    await c.tick();
    const batches = await env.batchesOnSim();
    expect(batches).toHaveLength(1);
    expect(Object.values(batches[0]?.counts ?? {}).reduce((a, n) => a + n, 0)).toBe(4);
    expect(await env.redis.zcard(env.queue.keys.batchLane)).toBe(0);
    // The batched jobs' holds were kept through the refusal; the refused job's was let go.
    const holds = env.queue.keys.budgetHolds('acme');
    const held = (id: string) => env.redis.hexists(holds, `batch:${scopedJobId(id, 'acme')}`);
    expect(await Promise.all([...ids, 'bad'].map(held))).toEqual([1, 1, 1, 1, 0]);
    // Live, it gets the Messages API's own verdict, in its record.
    const refused = await env.queue.wait({ id: 'bad', tenant: 'acme' }, 20_000);
    expect(refused?.state).toBe('failed');
    const record = refused?.record as JobRecord;
    expect(record.route).toBe('live');
    expect([record.status_code, record.error_type]).toEqual([400, 'invalid_request_error']);
    expect(refused?.error?.message).toMatch(/text\.bogus: Extra inputs are not permitted/);
    for (const id of ids) {
      const view = await tickUntilDone(env, c, id);
      expect(view?.state).toBe('completed');
      expect((view?.record as JobRecord | undefined)?.route).toBe('batch');
    }
    expect(env.finished.sort()).toEqual(['bad', ...ids].sort());
    expect(await env.batchesOnSim()).toHaveLength(1);
    expect(await env.redis.hlen(holds)).toBe(0);
  });

  it('a collector that died between finishing a batch and emitting its events: the next emits each once', async () => {
    env = await setUp(sim, { batchMaxAgeSeconds: 0, collectorLeaseMs: 800 });
    const ids = ['e1', 'e2'];
    for (const id of ids) await env.queue.add(job(id, { deadline: '1h', route: 'batch' }));
    const first = env.collector();
    await first.tick();
    const [b] = await env.batchesOnSim();
    // What `first` did: every job finished from its result, then it died before emitting.
    const { written } = await finishAsDeadCollector(env, b!.id);
    expect(written).toEqual([true, true]);
    expect(env.finished).toEqual([]);
    await sleep(900);
    const second = env.collector();
    expect(await second.tick()).toBe(true);
    expect(env.finished.sort()).toEqual(ids);
    const messages = env.logs.map((l) => l.msg);
    expect(messages).not.toContain('batch result ignored: the job ran live');
    expect(
      messages.filter((m) => m === 'batch job finished by an earlier collector: its events go out now'),
    ).toHaveLength(2);
    // Collected again (a collector that died after emitting, before closing): nothing emitted twice.
    await env.redis.sadd(env.queue.keys.batchOpen, b!.id);
    await second.tick();
    expect(env.finished.sort()).toEqual(ids);
    expect(env.logs.map((l) => l.msg)).toContain('batch result ignored: finished by its batch earlier');
    expect(env.logs.map((l) => l.msg)).not.toContain('batch result ignored: the job ran live');
  });

  it('a collector that dies mid-batch is taken over after its lease; each job finishes once', async () => {
    env = await setUp(sim, { batchMaxAgeSeconds: 0, collectorLeaseMs: 800 });
    const ids = ['c1', 'c2', 'c3'];
    for (const id of ids) await env.queue.add(job(id, { deadline: '1h', route: 'batch' }));
    const first = env.collector();
    expect(await first.tick()).toBe(true);
    expect(await env.batchesOnSim()).toHaveLength(1);
    // `first` dies here: it never ticks again and never gives its lease up.
    const second = env.collector();
    expect(await second.tick()).toBe(false);
    await sleep(900);
    for (const id of ids) expect((await tickUntilDone(env, second, id))?.state).toBe('completed');
    expect(await env.batchesOnSim()).toHaveLength(1);
    expect(env.finished.sort()).toEqual(ids);
    const completed = await env.redis.zrange(env.queue.keys.bullmq('completed'), 0, -1);
    expect(completed.sort()).toEqual(ids.map((id) => bullJobId(scopedJobId(id, 'acme'))).sort());
  });

  it('a collector that died between the API accepting its batch and saving it: the batch is adopted, not sent again', async () => {
    env = await setUp(sim, { batchMaxAgeSeconds: 0 });
    const ids = ['o1', 'o2'];
    for (const id of ids) await env.queue.add(job(id, { deadline: '1h', route: 'batch' }));
    // What the dead collector did: its intent, then the API's batch; then it died.
    const stored = ids.map((id) => scopedJobId(id, 'acme'));
    const token = 'dead-collector';
    await saveBatchIntent(env.redis, env.queue.keys, {
      token,
      at: Date.now(),
      round: 0,
      ids: stored,
      lane: true,
    });
    const views = await Promise.all(ids.map((id) => env.queue.get({ id, tenant: 'acme' })));
    await env.provider.batches!.create(
      stored.map((id, i) => ({ customId: batchCustomId(id), request: views[i]!.request })),
    );
    const c = env.collector();
    for (const id of ids) expect((await tickUntilDone(env, c, id))?.state).toBe('completed');
    expect(await env.batchesOnSim()).toHaveLength(1);
    expect(env.finished.sort()).toEqual(ids);
  });

  it('a collector that died between finishing a batch and settling its holds: the next one settles each hold once', async () => {
    env = await setUp(sim, { batchMaxAgeSeconds: 0, collectorLeaseMs: 800 });
    await new TenantStore(env.redis, env.queue.keys).add('acme', { dailyUsd: 100, onExceed: 'fail' });
    const ids = ['h1', 'h2', 'h3'];
    for (const id of ids) await env.queue.add(job(id, { deadline: '1h', route: 'batch' }));
    const first = env.collector();
    await first.tick();
    const [b] = await env.batchesOnSim();
    const holds = env.queue.keys.budgetHolds('acme');
    expect(await env.redis.hlen(holds)).toBe(3);
    // What `first` did of collecting before it died: every job finished, h1's hold settled; then it died.
    const { done, written } = await finishAsDeadCollector(env, b!.id);
    expect(written).toEqual([true, true, true]);
    const h1 = done.find((j) => j.id === scopedJobId('h1', 'acme'))!;
    await new BatchBudgets(env.redis, env.queue.keys, new PriceTable()).settle(
      h1.parsed,
      h1.jobRecord.cost_usd,
    );
    expect(await env.redis.hlen(holds)).toBe(2);
    // `first` never ticks again; after its lease, `second` collects the same batch.
    await sleep(900);
    const second = env.collector();
    expect(await second.tick()).toBe(true);
    expect(await env.redis.scard(env.queue.keys.batchOpen)).toBe(0);
    expect(await env.redis.hlen(holds)).toBe(0);
    // Each job charged once: the spend is the three records' cost, h1's not twice, h2's and h3's not lost.
    const costs = done.map((j) => j.jobRecord.cost_usd ?? Number.NaN);
    expect(Math.min(...costs)).toBeGreaterThan(0);
    const spent = (await readSpend(env.redis, env.queue.keys, ['acme'])).get('acme')?.day ?? 0;
    expect(Math.abs(spent - costs.reduce((a, c) => a + c, 0))).toBeLessThanOrEqual(3e-9);
    // A third collect (a collector that died after settling, before closing) charges nothing more.
    await env.redis.sadd(env.queue.keys.batchOpen, b!.id);
    await second.tick();
    expect((await readSpend(env.redis, env.queue.keys, ['acme'])).get('acme')?.day).toBe(spent);
    for (const id of ids) expect((await env.queue.get({ id, tenant: 'acme' }))?.state).toBe('completed');
  });
});

describe('a batch the API refuses at create without naming the request', () => {
  let sim: Simulator;
  let env: Env;
  beforeAll(async () => {
    sim = await startSimulator({ seed: 3, batches: { processingSeconds: 0.3, refusalNamesRequest: false } });
  });
  afterAll(async () => {
    await env.close();
    await sim.close();
  });

  it('is split until each refused request is alone: those run live, every other job goes through a batch', async () => {
    env = await setUp(sim, { batchMaxAgeSeconds: 0 });
    await env.worker();
    const c = env.collector();
    const bad = {
      prompt: undefined,
      messages: [{ role: 'user', content: [{ type: 'text', text: 'hi', bogus: 1 }] }],
    };
    // Refused requests first and last in the lane, good ones between.
    const order = ['bad1', 'n1', 'n2', 'n3', 'bad2'];
    for (const id of order) {
      await env.queue.add(job(id, { ...(id.startsWith('bad') ? bad : {}), deadline: '1h', route: 'batch' }));
    }
    await c.tick();
    expect(await env.redis.zcard(env.queue.keys.batchLane)).toBe(0);
    const sent = (await env.batchesOnSim()).map((b) =>
      Object.values({ ...b.counts } as Record<string, number>).reduce((a, n) => a + n, 0),
    );
    expect(sent.reduce((a, n) => a + n, 0)).toBe(3);
    for (const id of ['bad1', 'bad2']) {
      const view = await env.queue.wait({ id, tenant: 'acme' }, 20_000);
      expect(view?.state).toBe('failed');
      expect((view?.record as JobRecord | undefined)?.route).toBe('live');
      expect(view?.error?.message).toMatch(/Extra inputs are not permitted/);
    }
    for (const id of ['n1', 'n2', 'n3']) {
      const view = await tickUntilDone(env, c, id);
      expect(view?.state).toBe('completed');
      expect((view?.record as JobRecord | undefined)?.route).toBe('batch');
    }
    expect(env.finished.sort()).toEqual([...order].sort());
  });
});

describe('a batched job at risk of its deadline', () => {
  let sim: Simulator;
  let env: Env;
  beforeAll(async () => {
    // A batch slower than the deadline.
    sim = await startSimulator({ seed: 2, batches: { processingSeconds: 60, cancelSeconds: 0.1 } });
  });
  afterAll(async () => {
    await env.close();
    await sim.close();
  });

  it('runs live before its deadline, once; its batch is cancelled and the other job batched again', async () => {
    env = await setUp(sim, { batchMaxAgeSeconds: 0, liveLeadSeconds: 2 });
    await env.worker();
    const c = env.collector();
    const deadline = Date.now() + 4000;
    await env.queue.add(job('risk', { deadline: new Date(deadline).toISOString(), route: 'batch' }));
    await env.queue.add(job('calm', { deadline: '1h', route: 'batch' }));
    await c.tick();
    expect(await env.batchesOnSim()).toHaveLength(1);
    const view = await tickUntilDone(env, c, 'risk', 10_000);
    expect(view?.state).toBe('completed');
    const record = view?.record as JobRecord | undefined;
    expect(record?.route).toBe('live');
    expect(Date.parse(record?.finished_at ?? '')).toBeLessThanOrEqual(deadline);
    // The cancelled batch ends and is collected: `risk` is not finished again, `calm` is batched anew.
    for (let i = 0; i < 20 && (await env.batchesOnSim()).length < 2; i++) {
      await c.tick();
      await sleep(100);
    }
    const batches = await env.batchesOnSim();
    expect(batches.map((b) => b.status).sort()).toEqual(['ended', 'in_progress']);
    expect(env.finished).toEqual(['risk']);
    expect((await env.queue.get({ id: 'calm', tenant: 'acme' }))?.state).toBe('delayed');
  });
});
