/**
 * Message Batches over two `anthropic` accounts: each job's request goes to the account it may use
 * that serves its model (the job's `account` honoured, the account's `models` too), the first such
 * in the file, as live routing's eligibility has it — not every request to the first account. Each
 * account is its own simulator with its own key; what each one was sent is read back from it with
 * the official SDK (its batches and their results' models).
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Anthropic from '@anthropic-ai/sdk';
import { afterAll, describe, expect, it } from 'vitest';
import { type Simulator, startSimulator } from '../../packages/anthropic-simulator/src/index.js';
import { loadConfig } from '../../src/core/config.js';
import type { JobRequest } from '../../src/core/job.js';
import { defaultJobLimits } from '../../src/core/job-schema.js';
import { Logger } from '../../src/core/log.js';
import { BatchRun } from '../../src/producer/backfill/batch-run.js';
import { PromptQueue } from '../../src/producer/queue.js';
import { AnthropicBatches } from '../../src/providers/anthropic/batches.js';
import { PooledBatches } from '../../src/providers/anthropic/pooled-batches.js';
import { PriceTable } from '../../src/providers/anthropic/pricing.js';
import { createAnthropicApiProvider } from '../../src/providers/registry.js';
import { uniqueQueue } from '../helpers/stack.js';
import { redisEnv, testRedis, testSettings } from '../helpers/topology.js';

const keyA = `sk-ant-api03-${randomBytes(24).toString('base64url')}`;
const keyB = `sk-ant-api03-${randomBytes(24).toString('base64url')}`;
const dir = mkdtempSync(join(tmpdir(), 'promptq-batches-pool-'));

const request = (model: string) =>
  ({ model, max_tokens: 8, messages: [{ role: 'user', content: 'q' }] }) as JobRequest;

/** The models of every result the simulator's batches hold, sorted. */
async function servedModels(sim: Simulator, key: string): Promise<string[]> {
  const client = new Anthropic({ apiKey: key, baseURL: sim.url });
  const models: string[] = [];
  for await (const b of client.messages.batches.list()) {
    for await (const r of await client.messages.batches.results(b.id)) {
      if (r.result.type === 'succeeded') models.push(r.result.message.model);
    }
  }
  return models.sort();
}

describe('Message Batches over two anthropic accounts', () => {
  const sims: Simulator[] = [];
  afterAll(async () => {
    await Promise.all(sims.map((s) => s.close()));
    rmSync(dir, { recursive: true, force: true });
    delete process.env.PQ_POOL_KEY_A;
    delete process.env.PQ_POOL_KEY_B;
  });

  /** Two simulators (the seeds given) pooled: `main` serves Sonnet 4.5 only, `second` every model. */
  async function twoAccountPool(seedA: number, seedB: number) {
    const a = await startSimulator({ apiKey: keyA, seed: seedA, batches: { processingSeconds: 0.1 } });
    const b = await startSimulator({ apiKey: keyB, seed: seedB, batches: { processingSeconds: 0.1 } });
    sims.push(a, b);
    const batchesOf = (sim: Simulator, key: string) =>
      new AnthropicBatches(new Anthropic({ apiKey: key, baseURL: sim.url, maxRetries: 0 }));
    const pool = new PooledBatches([
      { name: 'main', batches: batchesOf(a, keyA), serves: (m) => m === 'claude-sonnet-4-5' },
      { name: 'second', batches: batchesOf(b, keyB), serves: () => true },
    ]);
    return { a, b, pool };
  }

  it('each job goes to the first account it may use that serves its model', async () => {
    const a = await startSimulator({ apiKey: keyA, seed: 41, batches: { processingSeconds: 0.2 } });
    const b = await startSimulator({ apiKey: keyB, seed: 42, batches: { processingSeconds: 0.2 } });
    sims.push(a, b);
    process.env.PQ_POOL_KEY_A = keyA;
    process.env.PQ_POOL_KEY_B = keyB;
    const accounts = join(dir, 'accounts.yaml');
    writeFileSync(
      accounts,
      `accounts:
  - name: main
    provider: anthropic
    api_key_env: PQ_POOL_KEY_A
    base_url: ${a.url}
    models: [claude-sonnet-4-5]
  - name: second
    provider: anthropic
    api_key_env: PQ_POOL_KEY_B
    base_url: ${b.url}
`,
    );
    const job = (id: string, model: string, extra: Record<string, unknown> = {}) =>
      JSON.stringify({ id, model, max_tokens: 20, prompt: `q ${id}`, ...extra });
    const path = join(dir, 'jobs.jsonl');
    writeFileSync(
      path,
      `${[
        job('s1', 'claude-sonnet-4-5'), // main: the first account, and it serves Sonnet 4.5
        job('h1', 'claude-haiku-4-5'), // second: main's `models` leave Haiku out
        job('s2', 'claude-sonnet-4-5', { account: 'second' }), // second: the job names it
        job('s3', 'claude-sonnet-4-5', { account: ['second', 'main'] }), // main: the first in the file it allows
      ].join('\n')}\n`,
    );
    const config = loadConfig({ ...redisEnv(), PROMPTQ_QUEUE: uniqueQueue(), PROMPTQ_ACCOUNTS: accounts });
    const provider = await createAnthropicApiProvider(config, new Logger('error'), 'Message Batches');
    const redis = testRedis();
    const queue = new PromptQueue({ connection: redis, queue: config.queue, ...testSettings() });
    try {
      const summary = await new BatchRun(
        path,
        { tenant: undefined, priority: 500, idPrefix: '', limits: defaultJobLimits },
        {
          provider,
          redis,
          queue,
          prices: new PriceTable(),
          retry: 'none',
          poll: { minMs: 100, maxMs: 300 },
          keepCompletedSeconds: 3600,
          keepFailedSeconds: 3600,
        },
      ).run();
      expect(summary).toMatchObject({ succeeded: 4, errored: 0, expired: 0 });
      for (const id of ['s1', 'h1', 's2', 's3']) expect((await queue.get({ id }))?.state).toBe('completed');
    } finally {
      await queue.close();
      redis.disconnect();
      await provider.close();
    }
    expect(await servedModels(a, keyA)).toEqual(['claude-sonnet-4-5', 'claude-sonnet-4-5']);
    expect(await servedModels(b, keyB)).toEqual(['claude-haiku-4-5', 'claude-sonnet-4-5']);
  }, 60_000);

  it("a batch id stored before pooling (the API's own, the first account's) is still polled and collected", async () => {
    const a = await startSimulator({ apiKey: keyA, seed: 43, batches: { processingSeconds: 0.1 } });
    const b = await startSimulator({ apiKey: keyB, seed: 44, batches: { processingSeconds: 0.1 } });
    sims.push(a, b);
    const batchesOf = (sim: Simulator, key: string) =>
      new AnthropicBatches(new Anthropic({ apiKey: key, baseURL: sim.url, maxRetries: 0 }));
    const first = batchesOf(a, keyA);
    // Before pooling every batch went to the first anthropic account and its id was stored as is.
    const request = {
      model: 'claude-haiku-4-5',
      max_tokens: 8,
      messages: [{ role: 'user', content: 'old' }],
    } as JobRequest;
    const old = await first.create([{ customId: 'old-1', request }]);
    expect(old.id).not.toContain('/');
    const pool = new PooledBatches([
      { name: 'main', batches: first, serves: () => true },
      { name: 'second', batches: batchesOf(b, keyB), serves: () => true },
    ]);
    let info = await pool.retrieve(old.id);
    for (let i = 0; i < 50 && info?.status !== 'ended'; i++) {
      await new Promise((r) => setTimeout(r, 100));
      info = await pool.retrieve(old.id);
    }
    expect(info).toMatchObject({ id: old.id, status: 'ended', counts: { succeeded: 1 } });
    const got: string[] = [];
    for await (const r of pool.results(old.id)) got.push(`${r.customId}:${r.result.type}`);
    expect(got).toEqual(['old-1:succeeded']);
  }, 30_000);

  it('a part the API no longer knows is left out: the other part is still polled and collected, not sent again', async () => {
    const { b, pool } = await twoAccountPool(45, 46);
    const clientB = new Anthropic({ apiKey: keyB, baseURL: b.url, maxRetries: 0 });
    const made = await pool.create([
      { customId: 'on-a', request: request('claude-sonnet-4-5') },
      { customId: 'on-b', request: request('claude-haiku-4-5') },
    ]);
    expect(made.id).toContain('+');
    let info = await pool.retrieve(made.id);
    for (let i = 0; i < 50 && info?.status !== 'ended'; i++) {
      await new Promise((r) => setTimeout(r, 100));
      info = await pool.retrieve(made.id);
    }
    expect(info?.status).toBe('ended');
    // The second account's part is deleted (the API keeps results 29 days): gone.
    for await (const batch of clientB.messages.batches.list())
      await clientB.messages.batches.delete(batch.id);
    expect(await pool.retrieve(made.id)).toMatchObject({ status: 'ended', counts: { succeeded: 1 } });
    const got: string[] = [];
    for await (const r of pool.results(made.id)) got.push(`${r.customId}:${r.result.type}`);
    expect(got).toEqual(['on-a:succeeded']);
  }, 30_000);

  it("list(): both accounts' batches, newest first, merged as they are read", async () => {
    const { pool } = await twoAccountPool(47, 48);
    const made: string[] = [];
    for (const model of ['claude-sonnet-4-5', 'claude-haiku-4-5', 'claude-sonnet-4-5', 'claude-haiku-4-5']) {
      made.push((await pool.create([{ customId: `c${made.length}`, request: request(model) }])).id);
      await new Promise((r) => setTimeout(r, 20));
    }
    expect(made.map((id) => id.split('/')[0])).toEqual(['main', 'second', 'main', 'second']);
    const listed: string[] = [];
    for await (const batch of pool.list()) listed.push(batch.id);
    expect(listed).toEqual([...made].reverse());
    // A reader may stop at any point (batch adoption stops at the oldest date it looks for).
    for await (const batch of pool.list()) {
      expect(batch.id).toBe(made[3]);
      break;
    }
  }, 30_000);
});
