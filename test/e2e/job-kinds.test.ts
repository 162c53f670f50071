/**
 * Every kind of Claude request end to end, through the HTTP API and through `promptq backfill`
 * (Message Batches format): the stored result is exactly the message the API (the simulator) sent,
 * and the cost is the hand computation from the usage and the published prices.
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ServedResponse } from '@promptq/anthropic-simulator';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { JobRecord } from '../../src/core/record.js';
import { spawnCli } from '../helpers/cli.js';
import { jobKinds } from '../helpers/job-kinds.js';
import { get, post, type Stack, startStack } from '../helpers/stack.js';

/** USD per million tokens, from the public price list, written out by hand. */
const hand: Record<string, { input: number; output: number }> = {
  'claude-haiku-4-5': { input: 1, output: 5 },
  'claude-sonnet-4-5': { input: 3, output: 15 },
};

function handCost(r: JobRecord): number {
  const p = hand[r.served_model ?? r.model];
  if (!p) throw new Error(`no hand price for ${r.model}`);
  return (
    (r.input_tokens * p.input +
      r.output_tokens * p.output +
      r.cache_creation_5m_input_tokens * p.input * 1.25 +
      r.cache_creation_1h_input_tokens * p.input * 2 +
      r.cache_read_input_tokens * p.input * 0.1) /
      1e6 +
    r.web_search_requests * 0.01
  );
}

describe('every kind of job, end to end', () => {
  let s: Stack;
  const served: ServedResponse[] = [];
  beforeAll(async () => {
    s = await startStack({ sim: { onServed: (r) => served.push(r) } });
  });
  afterAll(() => s?.close());

  const servedFor = (requestId: string | null) => served.find((x) => x.requestId === requestId);

  it.each(Object.keys(jobKinds))('HTTP: %s', async (kind) => {
    const r = await post(`${s.url}/v1/jobs`, { ...jobKinds[kind], tenant_id: 'acme' });
    expect(r.status, JSON.stringify(r.body)).toBe(202);
    const job = (await get(`${s.url}/v1/jobs/${r.body.id}?wait=30`)).body;
    expect(job.state, JSON.stringify(job.error)).toBe('completed');
    const record = job.record as JobRecord;
    const api = servedFor(record.request_id);
    expect(api).toBeDefined();
    // Exactly what the API sent, ids and signatures included.
    expect(job.result.content).toEqual(api?.content);
    expect(job.result.stop_reason).toBe(api?.stopReason);
    expect(record.stop_reason).toBe(api?.stopReason);
    expect(record.cache_creation_1h_input_tokens).toBe(api?.cacheCreation.ephemeral_1h_input_tokens);
    expect(record.cost_usd).toBeCloseTo(handCost(record), 9);
    expect(record.cost_usd).toBeGreaterThan(0);
    if (kind === '1-hour cached system prompt')
      expect(record.cache_creation_1h_input_tokens).toBeGreaterThan(4000);
    if (kind === 'server tool (web search)') expect(record.web_search_requests).toBe(1);
    if (kind.startsWith('redacted thinking')) {
      expect(job.result.content.map((b: { type: string }) => b.type)).toContain('redacted_thinking');
    }
    // A 1×1 PNG: billed by its size (width × height / 750), not a flat guess.
    if (kind === 'image input') expect(record.input_tokens).toBeLessThan(50);
  });

  it('CLI: promptq enqueue --wait --body @FILE, for every kind', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'pq-enq-'));
    const env = { REDIS_URL: inject('redisUrl'), PROMPTQ_QUEUE: s.config.queue };
    const runs = Object.entries(jobKinds).map(([kind, body], i) => {
      const file = join(dir, `${i}.json`);
      writeFileSync(file, JSON.stringify(body));
      return {
        kind,
        run: spawnCli(['enqueue', '--wait', '--timeout', '60', '--tenant', 'cli', '--body', `@${file}`], env),
      };
    });
    for (const { kind, run } of runs) {
      expect(await run.exited, `${kind}: ${run.stderr()}`).toBe(0);
      const view = JSON.parse(run.stdout());
      expect(view.state, kind).toBe('completed');
      expect(view.request.tenant_id).toBe('cli');
      expect(view.result.content, kind).toEqual(servedFor(view.record.request_id)?.content);
      expect(view.record.cost_usd).toBeCloseTo(handCost(view.record), 9);
    }
  }, 120_000);

  it('backfill: a Batches-format file of every kind goes in without a refused line, results as the API sent them', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'pq-kinds-'));
    const path = join(dir, 'kinds.jsonl');
    const out = join(dir, 'results.jsonl');
    const lines = Object.entries(jobKinds).map(([kind, body], i) => {
      const { prompt, ...params } = body as { prompt?: string };
      const messages = prompt === undefined ? undefined : [{ role: 'user', content: prompt }];
      return JSON.stringify({
        custom_id: `k-${i}-${kind.replace(/\W+/g, '-')}`,
        params: { ...params, ...(messages ? { messages } : {}) },
      });
    });
    writeFileSync(path, `${lines.join('\n')}\n`);
    const run = spawnCli(['backfill', path, '--wait', '--out', out, '--json'], {
      REDIS_URL: inject('redisUrl'),
      PROMPTQ_QUEUE: s.config.queue,
    });
    expect(await run.exited, run.stderr()).toBe(0);
    const results = readFileSync(out, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(results).toHaveLength(lines.length);
    for (const r of results) {
      expect(r.result.type, r.custom_id).toBe('succeeded');
      const api = servedFor(r.record.request_id);
      expect(r.result.message.content, r.custom_id).toEqual(api?.content);
      expect(r.record.cost_usd).toBeCloseTo(handCost(r.record), 9);
    }
  }, 120_000);
});
