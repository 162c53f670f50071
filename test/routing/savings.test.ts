/**
 * The saving from Batches and from cache reads against the same work sent live without caching
 * (issue 28 item 5): per job in its record, per tenant in the dashboard's figures and the report.
 * The simulator serves the tokens; the saving is checked against Haiku 4.5's list prices written
 * here by hand ($1/M input, $5/M output, 1-hour cache writes 2x input, reads 0.1x, Batches 50%).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { JobRecord } from '../../src/core/record.js';
import { formatReport } from '../../src/ops/dashboard/report.js';
import { readDashboard } from '../../src/ops/dashboard/summary.js';
import { PromptQueue } from '../../src/producer/queue.js';
import { keyspaceOf } from '../../src/store/keys.js';
import { runBatchFile } from '../helpers/batch-file.js';
import { get, post, type Stack, startStack, uniqueQueue } from '../helpers/stack.js';
import { testRedis, testSettings } from '../helpers/topology.js';

const usd = (tokens: number, perMillion: number) => (tokens * perMillion) / 1e6;
const job = {
  model: 'claude-haiku-4-5',
  max_tokens: 20,
  tenant_id: 'acme',
  system: [
    {
      type: 'text',
      text: 'You are a careful assistant. '.repeat(40),
      cache_control: { type: 'ephemeral', ttl: '1h' },
    },
  ],
  prompt: 'Say hello',
};

describe('savings from Batches and cache reads', () => {
  let s: Stack;
  let dir: string;
  beforeAll(async () => {
    s = await startStack({ sim: { batches: { processingSeconds: 0.2 }, cacheMinTokens: 1 } });
    dir = mkdtempSync(join(tmpdir(), 'promptq-savings-'));
  });
  afterAll(async () => {
    await s.close();
    rmSync(dir, { recursive: true, force: true });
  });

  async function live(): Promise<JobRecord> {
    const r = await post(`${s.url}/v1/jobs`, job);
    const view = await get(`${s.url}/v1/jobs/${r.body.id as string}?wait=20`);
    expect(view.body.state).toBe('completed');
    return view.body.record as JobRecord;
  }

  it('a cache write costs, a cache read saves, a batch saves half; the dashboard adds them up', async () => {
    const write = await live();
    const read = await live();
    expect(write.cache_creation_1h_input_tokens).toBeGreaterThan(0);
    expect(read.cache_read_input_tokens).toBe(write.cache_creation_1h_input_tokens);
    // A 1-hour write at 2x input against the same tokens as plain input: it costs 1x more.
    expect(write.savings?.cache_usd).toBeCloseTo(-usd(write.cache_creation_1h_input_tokens, 1), 9);
    expect(write.savings?.batch_usd).toBe(0);
    // A read at 0.1x input: 0.9x saved.
    expect(read.savings?.cache_usd).toBeCloseTo(usd(read.cache_read_input_tokens, 0.9), 9);
    expect(read.savings?.batch_usd).toBe(0);

    const path = join(dir, 'jobs.jsonl');
    writeFileSync(
      path,
      `${JSON.stringify({ id: 'b1', ...job, system: [{ ...job.system[0], text: 'Other. '.repeat(80) }] })}\n`,
    );
    const redis = testRedis();
    const queue = new PromptQueue({ connection: redis, queue: uniqueQueue(), ...testSettings() });
    try {
      await runBatchFile(path, { simUrl: s.sim.url, redis, queue });
      const b = (await queue.get({ id: 'b1', tenant: 'acme' }))?.record as JobRecord;
      const liveCost =
        usd(b.input_tokens, 1) + usd(b.output_tokens, 5) + usd(b.cache_creation_1h_input_tokens, 2);
      expect(b.cost_usd).toBeCloseTo(liveCost / 2, 9);
      expect(b.savings?.batch_usd).toBeCloseTo(liveCost / 2, 9);
      expect(b.savings?.cache_usd).toBeCloseTo(-usd(b.cache_creation_1h_input_tokens, 1), 9);
    } finally {
      await queue.queue.obliterate({ force: true });
      await queue.close();
      redis.disconnect();
    }

    // The workers' rollups: the tenant's savings are its jobs' (the batch ran on another queue).
    const keys = keyspaceOf(s.config);
    let data = await readDashboard(s.redis, keys, 60);
    for (
      let i = 0;
      i < 50 && (data.tenants.acme?.cost_usd ?? 0) < (write.cost_usd ?? 0) + (read.cost_usd ?? 0) - 1e-9;
      i++
    ) {
      await new Promise((r) => setTimeout(r, 100));
      data = await readDashboard(s.redis, keys, 60);
    }
    const cache = (write.savings?.cache_usd ?? 0) + (read.savings?.cache_usd ?? 0);
    expect(data.tenants.acme?.cache_saving_usd).toBeCloseTo(cache, 6);
    expect(data.tenants.acme?.batch_saving_usd).toBe(0);
    expect(formatReport(data, 'q', '1h')).toMatch(/saved by batches\s+saved by cache/);
  });
});
