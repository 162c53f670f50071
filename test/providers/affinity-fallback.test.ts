/**
 * The bound on waiting for the account a prefix is pinned to (src/limiter/account-router.ts): the
 * pinned account is paused by a 429 whose `retry-after` is 20 s. With `PROMPTQ_CACHE_WRITE_WAIT_MS`
 * 2 s (room there further away than the bound), the prefix's jobs go to the other account, which
 * pays one write; with 60 s (room there within the bound), they wait for the pinned account and
 * the other serves none of them. Counted by the simulators' own usage.
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  type ServedResponse,
  type Simulator,
  startSimulator,
} from '../../packages/anthropic-simulator/src/index.js';
import { startWorker } from '../../src/ops/start-worker.js';
import { PromptQueue } from '../../src/producer/queue.js';
import { uniqueQueue } from '../helpers/stack.js';
import { testSettings } from '../helpers/topology.js';

const keyA = 'sk-ant-affinity-fb-a-0123456789';
const keyB = 'sk-ant-affinity-fb-b-9876543210';

describe('falling back from the pinned account', { timeout: 120_000 }, () => {
  const closers: Array<() => Promise<unknown>> = [];
  beforeAll(() => {
    process.env.PQ_AFB_KEY_A = keyA;
    process.env.PQ_AFB_KEY_B = keyB;
  });
  afterEach(async () => {
    for (const c of closers.reverse()) await c();
    closers.length = 0;
  });

  async function run(waitMs: number) {
    const served: ServedResponse[][] = [[], []];
    const sims: Simulator[] = await Promise.all(
      [keyA, keyB].map((apiKey, i) =>
        startSimulator({ apiKey, seed: 21 + i, ttftMs: 50, onServed: (r) => served[i]!.push(r) }),
      ),
    );
    for (const s of sims) closers.push(() => s.close());
    const file = join(mkdtempSync(join(tmpdir(), 'promptq-affinity-fb-')), 'accounts.json');
    writeFileSync(
      file,
      JSON.stringify({
        accounts: [
          { name: 'a', provider: 'anthropic', api_key_env: 'PQ_AFB_KEY_A', base_url: sims[0]!.url },
          { name: 'b', provider: 'anthropic', api_key_env: 'PQ_AFB_KEY_B', base_url: sims[1]!.url },
        ],
      }),
    );
    const settings = {
      ...testSettings(),
      queue: uniqueQueue(),
      accountsFile: file,
      limiter: { tuning: { cacheWriteWaitMs: waitMs, overloadBaseMs: 20 } },
      worker: { backoff: { baseMs: 20 } },
    };
    const running = await startWorker(settings);
    closers.push(() => running.close());
    const q = new PromptQueue(settings);
    closers.push(() => q.close());
    const system = [
      {
        type: 'text',
        text: `Run ${randomUUID()}. ${'Shared instructions. '.repeat(900)}`,
        cache_control: { type: 'ephemeral' },
      },
    ];
    const job = (i: number, extra: Record<string, unknown> = {}) => ({
      model: 'claude-sonnet-4-5',
      max_tokens: 16,
      system,
      prompt: `question ${i}`,
      ...extra,
    });
    // The first job names `a`: the prefix is pinned there (and written there).
    const first = await q.addBatch([job(0, { account: 'a' })]);
    expect((await q.wait(first.ids[0]!, 30_000))?.state).toBe('completed');
    // Then `a` answers 429 for 20 s: its Sonnet group is paused that long.
    sims[0]!.script([{ status: 429, retryAfter: 20 }]);
    const paused = await q.addBatch([
      { model: 'claude-sonnet-4-5', max_tokens: 8, prompt: 'x', account: 'a' },
    ]);
    const start = Date.now();
    while (Date.now() - start < 10_000 && sims[0]!.stats().rateLimited.total === 0) {
      await new Promise((r) => setTimeout(r, 50));
    }
    expect(sims[0]!.stats().rateLimited.total).toBe(1);
    const { ids } = await q.addBatch(Array.from({ length: 6 }, (_, i) => job(i + 1)));
    const views = await Promise.all([...ids, ...paused.ids].map((id) => q.wait(id, 90_000)));
    expect(views.every((v) => v?.state === 'completed')).toBe(true);
    const writes = served.map((s) => s.filter((r) => r.usage.cache_creation_input_tokens > 0).length);
    const prefixJobs = served.map((s) => s.filter((r) => r.usage.cache_read_input_tokens > 0).length);
    const accounts = views.slice(0, 6).map((v) => v?.record?.account);
    console.log(
      `wait ${waitMs} ms: writes a/b ${writes.join('/')}, reads a/b ${prefixJobs.join('/')}, accounts ${accounts.join(',')}`,
    );
    return { writes, accounts };
  }

  it('room on the pinned account further than the bound: the other account serves, one write there', async () => {
    const { writes, accounts } = await run(2_000);
    expect(accounts.every((a) => a === 'b')).toBe(true);
    expect(writes).toEqual([1, 1]);
  });

  it('control: room within the bound: the jobs wait for the pinned account, the other serves none', async () => {
    const { writes, accounts } = await run(60_000);
    expect(accounts.every((a) => a === 'a')).toBe(true);
    expect(writes).toEqual([1, 0]);
  });
});
