import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Anthropic from '@anthropic-ai/sdk';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { JobRecord } from '../../src/core/record.js';
import type { BatchRunSummary } from '../../src/producer/backfill/batch-types.js';
import type { BackfillSummary } from '../../src/producer/backfill/run-summary.js';
import { PriceTable } from '../../src/providers/anthropic/pricing.js';
import { Keyspace } from '../../src/store/keys.js';
import { spawnCli } from '../helpers/cli.js';
import { type Stack, startStack, testApiKey } from '../helpers/stack.js';

const model = 'claude-haiku-4-5';
const line = (i: number) =>
  JSON.stringify({
    custom_id: `r-${i}`,
    params: { model, max_tokens: 30, messages: [{ role: 'user', content: `question number ${i}` }] },
  });

interface Out {
  custom_id: string;
  line: number;
  result: { type: string; message?: Anthropic.Message; error?: { type: string } };
  record: JobRecord;
}

describe('promptq backfill --via batches (real CLI processes, real Redis, the simulator)', () => {
  let dir: string;
  let redis: Redis;
  const prices = new PriceTable();
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'promptq-batches-'));
    redis = new Redis(inject('redisUrl'), { maxRetriesPerRequest: null });
  });
  afterAll(() => {
    redis.disconnect();
    rmSync(dir, { recursive: true, force: true });
  });
  const env = (s: Stack) => ({
    REDIS_URL: inject('redisUrl'),
    PROMPTQ_QUEUE: s.config.queue,
    ANTHROPIC_API_KEY: testApiKey,
    ANTHROPIC_BASE_URL: s.sim.url,
  });
  const readOut = (path: string) =>
    readFileSync(path, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Out);
  const apiBatches = async (s: Stack) => {
    const c = new Anthropic({ apiKey: testApiKey, baseURL: s.sim.url });
    const ids: string[] = [];
    for await (const b of c.messages.batches.list({ limit: 100 })) ids.push(b.id);
    return ids;
  };

  it('10,000 lines: killed while polling, resumed; every result once, in input order, at half the price', async () => {
    // The worker takes the requests sent again live (errored and expired ones).
    const stack = await startStack({
      sim: { batches: { processingSeconds: 4, errorRate: 0.01, expiryRate: 0.01 } },
      parts: { api: false, worker: true },
    });
    try {
      const n = 10_000;
      const path = join(dir, 'big.jsonl');
      writeFileSync(path, `${Array.from({ length: n }, (_, i) => line(i + 1)).join('\n')}\n`);
      const out = join(dir, 'big-out.jsonl');
      const args = ['backfill', path, '--via', 'batches', '--batch-size', '2500', '--out', out, '--json'];
      const started = performance.now();

      const first = spawnCli(args, env(stack));
      // Killed once all four batches are submitted and the poll has begun.
      for (let k = 0; k < 4; k++) {
        await first.waitForLog((l) => l.msg === 'message batch submitted' && logsSeen(first, k), 60_000);
      }
      expect((await apiBatches(stack)).length).toBe(4);
      first.proc.kill('SIGKILL');
      await first.exited;
      const k = new Keyspace({ queue: stack.config.queue });
      expect(await redis.zcard(k.batches)).toBe(4);
      expect(await redis.hlen(k.batchOf)).toBe(n);

      const second = spawnCli(args, env(stack));
      const code = await second.exited;
      const seconds = (performance.now() - started) / 1000;
      expect(code, second.stderr()).toBe(0);
      const { batches, summary } = JSON.parse(second.stdout()) as {
        batches: BatchRunSummary;
        summary: BackfillSummary;
      };
      // Nothing was submitted twice: the resumed run only polled.
      expect(await apiBatches(stack)).toHaveLength(4);
      expect(batches).toMatchObject({ batches: 4, submitted: 0, resumed: n });
      expect(batches.errored + batches.expired).toBe(0);
      expect(batches.retried_live).toBeGreaterThan(0);
      expect(batches.succeeded + batches.retried_live).toBe(n);
      expect(summary).toMatchObject({ lines: n, succeeded: n, failed: 0, pending: 0, missing: 0 });

      const rows = readOut(out);
      expect(rows.map((r) => r.custom_id)).toEqual(Array.from({ length: n }, (_, i) => `r-${i + 1}`));
      expect(rows.every((r) => r.result.type === 'succeeded')).toBe(true);
      // Batch results: latency_ms is null (no single call) and the cost is half the standard price.
      const viaBatch = rows.filter((r) => r.record.latency_ms === null);
      expect(viaBatch.length).toBe(batches.succeeded);
      let paid = 0;
      let standard = 0;
      for (const r of viaBatch) {
        const u = r.result.message!.usage;
        // The standard price of the same usage (the batch result says service_tier "batch").
        const full = prices.priceCall({ ...u, service_tier: 'standard' }, model)!.total;
        expect(r.record.cost_usd).toBeCloseTo(full / 2, 9);
        paid += r.record.cost_usd!;
        standard += full;
      }
      const ratio = paid / standard;
      expect(ratio).toBeCloseTo(0.5, 6);
      // The ones sent again live cost the standard price.
      for (const r of rows.filter((x) => x.record.latency_ms !== null).slice(0, 20)) {
        expect(r.record.cost_usd).toBeGreaterThan(0);
      }
      console.log(
        `10,000 lines via batches, killed and resumed: ${seconds.toFixed(1)} s, cost ratio ${ratio.toFixed(6)}`,
      );

      // `promptq results` reads the same lines back from Redis.
      const reread = join(dir, 'big-reread.jsonl');
      const again = spawnCli(['results', path, '--out', reread], env(stack));
      expect(await again.exited, again.stderr().slice(-2000)).toBe(0);
      expect(readFileSync(reread, 'utf8')).toBe(readFileSync(out, 'utf8'));

      // The dashboard's rollups (and so `promptq report`) count the batch results with their price.
      const report = spawnCli(['report', '--json', '--since', '1h'], env(stack));
      expect(await report.exited, report.stderr()).toBe(0);
      const totals = (JSON.parse(report.stdout()) as { totals: { jobs: number; cost_usd: number } }).totals;
      expect(totals.jobs).toBe(n);
      // (Rollups keep whole micro-dollars per job.)
      expect(Math.abs(totals.cost_usd - summary.cost_usd)).toBeLessThanOrEqual(n * 1e-6);
    } finally {
      await stack.close();
    }
  }, 240_000);

  it('errored and expired requests end as --batch-retry says; invalid params fail once', async () => {
    const stack = await startStack({
      sim: { batches: { processingSeconds: 1, errorRate: 0.15, expiryRate: 0.15 }, seed: 3 },
      parts: { api: false, worker: false },
    });
    try {
      const n = 200;
      const lines = Array.from({ length: n }, (_, i) => line(i + 1));
      // Valid for promptq, too many max_tokens for the model: the batch says invalid_request_error.
      lines[9] = JSON.stringify({
        custom_id: 'r-10',
        params: { model, max_tokens: 100_000, messages: [{ role: 'user', content: 'too long' }] },
      });
      const path = join(dir, 'retry.jsonl');
      writeFileSync(path, `${lines.join('\n')}\n`);

      // none: errored and expired end as such.
      const outNone = join(dir, 'none.jsonl');
      const none = spawnCli(
        [
          'backfill',
          path,
          '--via',
          'batches',
          '--batch-retry',
          'none',
          '--out',
          outNone,
          '--id-prefix',
          'none-',
          '--json',
        ],
        env(stack),
      );
      expect(await none.exited, none.stderr()).toBe(1);
      const rowsNone = readOut(outNone);
      expect(rowsNone.map((r) => r.line)).toEqual(Array.from({ length: n }, (_, i) => i + 1));
      const types = new Map<string, number>();
      for (const r of rowsNone) types.set(r.result.type, (types.get(r.result.type) ?? 0) + 1);
      expect(types.get('expired')).toBeGreaterThan(5);
      expect(types.get('errored')).toBeGreaterThan(5);
      expect(rowsNone[9]?.result).toMatchObject({
        type: 'errored',
        error: { type: 'invalid_request_error' },
      });
      const s = JSON.parse(none.stdout()) as {
        batches: Record<string, number>;
        summary: Record<string, number>;
      };
      expect(s.batches.errored).toBe(types.get('errored'));
      expect(s.batches.expired).toBe(types.get('expired'));
      expect(s.summary.expired).toBe(types.get('expired'));
      expect(s.summary.failed).toBe(types.get('errored'));

      // batches: follow-up batches until they succeed (or 3 follow-ups); the invalid one is not sent again.
      const outBatches = join(dir, 'batches.jsonl');
      const again = spawnCli(
        [
          'backfill',
          path,
          '--via',
          'batches',
          '--batch-retry',
          'batches',
          '--out',
          outBatches,
          '--id-prefix',
          'fu-',
          '--json',
        ],
        env(stack),
      );
      expect(await again.exited, again.stderr()).toBe(1);
      const rows = readOut(outBatches);
      for (const r of rows) {
        if (r.line === 10) expect(r.result.type).toBe('errored');
        else if (r.result.type !== 'succeeded') expect(r.record.attempts).toBe(4);
      }
      expect(
        rows.filter((r) => r.result.type === 'succeeded' && r.record.attempts > 1).length,
      ).toBeGreaterThan(20);
      const fu = JSON.parse(again.stdout()) as { batches: BatchRunSummary };
      expect(fu.batches.retried_batch).toBeGreaterThan(40);
      expect(fu.batches.batches).toBeGreaterThan(1);
      expect(rows.every((r) => r.result.type !== 'succeeded' || (r.record.cost_usd ?? 0) > 0)).toBe(true);
    } finally {
      await stack.close();
    }
  }, 120_000);

  it('promptq batches list / show / cancel: progress while it runs; a canceled batch ends as canceled', async () => {
    const stack = await startStack({
      sim: { batches: { processingSeconds: 60, cancelSeconds: 0.5 } },
      parts: { api: false, worker: false },
    });
    try {
      const n = 300;
      const path = join(dir, 'cancel.jsonl');
      writeFileSync(path, `${Array.from({ length: n }, (_, i) => line(i + 1)).join('\n')}\n`);
      const out = join(dir, 'cancel-out.jsonl');
      const run = spawnCli(['backfill', path, '--via', 'batches', '--out', out, '--json'], env(stack));
      const submitted = await run.waitForLog((l) => l.msg === 'message batch submitted', 30_000);
      const id = String(submitted.batch_id);

      const list = spawnCli(['batches', 'list', '--json'], env(stack));
      expect(await list.exited, list.stderr()).toBe(0);
      const listed = list
        .stdout()
        .trim()
        .split('\n')
        .map(
          (l) =>
            JSON.parse(l) as { id: string; status: string; requests: number; counts: Record<string, number> },
        );
      expect(listed).toHaveLength(1);
      expect(listed[0]).toMatchObject({ id, status: 'in_progress', requests: n });
      expect(listed[0]?.counts.processing).toBeGreaterThan(0);
      const text = spawnCli(['batches', 'show', id], env(stack));
      expect(await text.exited).toBe(0);
      expect(text.stdout()).toMatch(
        new RegExp(`^${id} .* in_progress .* processing \\d+ succeeded \\d+ errored 0`),
      );

      const cancel = spawnCli(['batches', 'cancel', id, '--json'], env(stack));
      expect(await cancel.exited, cancel.stderr()).toBe(0);
      expect(JSON.parse(cancel.stdout())).toMatchObject({ id, status: 'canceling' });
      const unknown = spawnCli(['batches', 'cancel', 'msgbatch_not_ours'], env(stack));
      expect(await unknown.exited).toBe(1);
      expect(unknown.stderr()).toMatch(
        /^promptq: no batch msgbatch_not_ours was submitted by promptq for queue "[^"]+"\n$/,
      );

      expect(await run.exited, run.stderr()).toBe(1);
      const rows = readOut(out);
      const canceled = rows.filter((r) => r.result.type === 'canceled').length;
      expect(canceled).toBeGreaterThan(n / 2);
      expect(rows.every((r) => r.result.type === 'canceled' || r.result.type === 'succeeded')).toBe(true);
      const s = JSON.parse(run.stdout()) as { batches: BatchRunSummary; summary: BackfillSummary };
      expect(s.batches.canceled).toBe(canceled);
      expect(s.summary.canceled).toBe(canceled);
      // The progress line showed the counts while polling.
      expect(run.stderr()).toMatch(/batches \d+\/300 .*submitted 300 processing \d+ succeeded \d+ errored 0/);
    } finally {
      await stack.close();
    }
  }, 120_000);
});

/** True once the process has logged more than `k` submissions. */
function logsSeen(p: ReturnType<typeof spawnCli>, k: number): boolean {
  return p.logs().filter((l) => l.msg === 'message batch submitted').length > k;
}
