/**
 * One pipeline, two routes (issue 28 item 1): the same job run live by a worker and finished through
 * a Message Batch ends with a record of the same fields, filled alike (stop reason, served model,
 * the 5-minute/1-hour cache split), `route` saying which, and the same metric series, `route` apart.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { JobRecord } from '../../src/core/record.js';
import { PromptqEvents } from '../../src/events/emitter.js';
import { Metrics } from '../../src/ops/metrics/metrics.js';
import { subscribeWorkerMetrics } from '../../src/ops/metrics/worker-metrics.js';
import { PromptQueue } from '../../src/producer/queue.js';
import { runBatchFile } from '../helpers/batch-file.js';
import { get, post, type Stack, startStack, uniqueQueue } from '../helpers/stack.js';
import { testRedis, testSettings } from '../helpers/topology.js';

/** A job with a 1-hour cache write, so the record's cache split is filled on both routes. */
function job(prefix: string) {
  return {
    model: 'claude-haiku-4-5',
    max_tokens: 20,
    tenant_id: 'acme',
    system: [
      {
        type: 'text',
        text: `${prefix}: you are a careful assistant. `.repeat(20),
        cache_control: { type: 'ephemeral', ttl: '1h' },
      },
    ],
    prompt: 'Say hello',
  };
}

/** `promptq_cost_usd_total` series of tenant acme: their labels but `route`, and the sum, per route. */
function costSeries(text: string): Map<string, { series: string[]; usd: number }> {
  const byRoute = new Map<string, { series: string[]; usd: number }>();
  for (const line of text.split('\n')) {
    const m = /^promptq_cost_usd_total\{(.*)\} (\S+)$/.exec(line);
    const inner = m?.[1];
    if (inner === undefined || !inner.includes('tenant="acme"')) continue;
    const labels = inner.split(',').sort();
    const route = labels.find((l) => l.startsWith('route='))?.slice(7, -1) ?? '(none)';
    const entry = byRoute.get(route) ?? { series: [], usd: 0 };
    entry.series.push(labels.filter((l) => !l.startsWith('route=')).join(','));
    entry.usd += Number(m?.[2]);
    byRoute.set(route, entry);
  }
  for (const e of byRoute.values()) e.series.sort();
  return byRoute;
}

describe('a job finished through a batch is recorded and counted as a live one', () => {
  let s: Stack;
  let dir: string;
  beforeAll(async () => {
    s = await startStack({ sim: { batches: { processingSeconds: 0.2 }, cacheMinTokens: 1 } });
    dir = mkdtempSync(join(tmpdir(), 'promptq-one-pipeline-'));
  });
  afterAll(async () => {
    await s.close();
    rmSync(dir, { recursive: true, force: true });
  });

  async function live(): Promise<{ record: JobRecord; metrics: string }> {
    const r = await post(`${s.url}/v1/jobs`, job('live'));
    const view = await get(`${s.url}/v1/jobs/${r.body.id as string}?wait=20`);
    expect(view.body.state).toBe('completed');
    const metrics = await fetch(`${s.url}/metrics`).then((m) => m.text());
    return { record: view.body.record as JobRecord, metrics };
  }

  async function batch(): Promise<{ record: JobRecord; metrics: string }> {
    const path = join(dir, 'jobs.jsonl');
    writeFileSync(path, `${JSON.stringify({ id: 'b1', ...job('batch') })}\n`);
    const redis = testRedis();
    const queue = new PromptQueue({ connection: redis, queue: uniqueQueue(), ...testSettings() });
    const events = new PromptqEvents();
    const metrics = new Metrics();
    subscribeWorkerMetrics(events, metrics);
    try {
      const summary = await runBatchFile(path, { simUrl: s.sim.url, redis, queue, events });
      expect(summary).toMatchObject({ succeeded: 1 });
      await events.idle();
      const view = await queue.get({ id: 'b1', tenant: 'acme' });
      return { record: view?.record as JobRecord, metrics: await metrics.registry.metrics() };
    } finally {
      await queue.queue.obliterate({ force: true });
      await queue.close();
      redis.disconnect();
    }
  }

  it('the same record fields, filled alike, and the same cost series under their route', async () => {
    const [viaWorker, viaBatch] = [await live(), await batch()];
    const [l, b] = [viaWorker.record, viaBatch.record];
    expect(Object.keys(b).sort()).toEqual(Object.keys(l).sort());
    expect(l.route).toBe('live');
    expect(b.route).toBe('batch');
    for (const r of [l, b]) {
      expect(r.stop_reason).toBe('end_turn');
      expect(r.served_model).toBe('claude-haiku-4-5');
      expect(r.service_tier).not.toBeNull();
      expect(r.cache_creation_1h_input_tokens).toBeGreaterThan(0);
      expect(r.cache_creation_5m_input_tokens).toBe(0);
      expect(r.cache_creation_1h_input_tokens).toBe(r.cache_creation_input_tokens);
    }
    expect(b.cost?.batch).toBe(true);

    const liveCost = costSeries(viaWorker.metrics);
    const batchCost = costSeries(viaBatch.metrics);
    expect([...liveCost.keys()]).toEqual(['live']);
    expect([...batchCost.keys()]).toEqual(['batch']);
    expect(batchCost.get('batch')?.series).toEqual(liveCost.get('live')?.series);
    // Each route's series add up to its job's record.
    expect(liveCost.get('live')?.usd).toBeCloseTo(l.cost_usd ?? Number.NaN, 9);
    expect(batchCost.get('batch')?.usd).toBeCloseTo(b.cost_usd ?? Number.NaN, 9);
  });
});
