/**
 * The cost bench (issue 28 §6, docs/benchmarks.md): a mixed workload interleaved as it arrives — a
 * fifth interactive jobs with no deadline, the rest with deadlines of hours, in groups sharing long
 * cacheable prefixes — and three figures from the same run:
 *
 * - **naive**: every job sent live as it arrives, as submitted (the Anthropic SDK, no queue);
 * - **floor**: computed from the tokens the naive run was served: interactive jobs live, the rest
 *   at the Batches price, each group's prefix written once;
 * - **promptq**: the jobs enqueued with their deadlines (route `auto`), on a simulator whose
 *   batches end in seconds; and promptq **without routing** (the same jobs, no deadlines), for the
 *   interactive jobs' wait.
 *
 * Spend is what each simulator served (live answers, and the results of its Message Batches) ×
 * the list prices; promptq's own `cost_usd` sum is printed beside it.
 *
 *   npm run bench:cost -- [--jobs N] [--groups K] [--seconds S] [--seed N]
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Anthropic from '@anthropic-ai/sdk';
import { type Simulator, startSimulator } from '../../packages/anthropic-simulator/src/index.js';
import { runBackfill } from '../../src/cli/backfill-run.js';
import { loadConfig } from '../../src/core/config.js';
import { Logger } from '../../src/core/log.js';
import type { Usage } from '../../src/core/record.js';
import { runService } from '../../src/ops/service.js';
import { PromptQueue } from '../../src/producer/queue.js';
import { TestRedis } from '../lib/redis-server.js';
import {
  type CostJob,
  floorOf,
  model,
  percentile,
  type ServedUsage,
  type Spend,
  servedUsage,
  spendOf,
  workload,
} from './cost-workload.js';

const args = process.argv.slice(2);
const arg = (name: string, fallback: number) =>
  args.includes(name) ? Number(args[args.indexOf(name) + 1]) : fallback;
const options = {
  jobs: arg('--jobs', 100),
  groups: arg('--groups', 5),
  seconds: arg('--seconds', 20),
  seed: arg('--seed', 28),
};
const apiKey = 'sk-ant-bench-cost-0123456789';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, Math.max(0, ms)));

/** A simulator that keeps what it served live, per request and per `metadata.user_id`. */
async function recordingSim() {
  const served: ServedUsage[] = [];
  const byUser = new Map<string, Usage>();
  const sim = await startSimulator({
    seed: options.seed,
    limits: { rpm: 6000, itpm: 10_000_000, otpm: 10_000_000 },
    // A long prompt's first token comes late; every answer is exactly max_tokens long, so the runs
    // are served the same tokens.
    ttftMs: 300,
    msPerToken: 1,
    output: { minFraction: 1, maxFraction: 1 },
    batches: { processingSeconds: 2 },
    onServed: (s) => {
      if (s.outcome !== 'completed') return;
      served.push(servedUsage(s));
      if (s.userId !== null) byUser.set(s.userId, servedUsage(s).usage);
    },
  });
  return { sim, served, byUser };
}

const simHeaders = { 'x-api-key': apiKey, 'anthropic-version': '2023-06-01' };

/** The simulator's Message Batches so far. */
async function listBatches(sim: Simulator): Promise<Array<{ id: string; processing_status: string }>> {
  const res = await fetch(`${sim.url}/v1/messages/batches?limit=1000`, { headers: simHeaders });
  return ((await res.json()) as { data: Array<{ id: string; processing_status: string }> }).data;
}

/** What the simulator's Message Batches served (their succeeded results), leaving out `skip`. */
async function batchServed(sim: Simulator, skip: ReadonlySet<string>): Promise<ServedUsage[]> {
  const out: ServedUsage[] = [];
  for (const b of await listBatches(sim)) {
    if (skip.has(b.id) || b.processing_status !== 'ended') continue;
    const res = await fetch(`${sim.url}/v1/messages/batches/${b.id}/results`, { headers: simHeaders });
    for (const line of (await res.text()).split('\n').filter(Boolean)) {
      const r = JSON.parse(line) as { result: { type: string; message?: { usage: Usage } } };
      if (r.result.type === 'succeeded' && r.result.message)
        out.push({ usage: r.result.message.usage, batch: true });
    }
  }
  return out;
}

/** naive: each job sent live when it arrives, as submitted. */
async function naive(jobs: readonly CostJob[]) {
  const { sim, served, byUser } = await recordingSim();
  const client = new Anthropic({ apiKey, baseURL: sim.url, maxRetries: 8 });
  const start = Date.now();
  await Promise.all(
    jobs.map(async (j) => {
      await sleep(j.arrivesAtMs - (Date.now() - start));
      const { system, prompt, max_tokens } = j.body as { system: never; prompt: string; max_tokens: number };
      await client.messages.create({
        model,
        max_tokens,
        system,
        messages: [{ role: 'user', content: prompt }],
        metadata: { user_id: j.id },
      });
    }),
  );
  await sim.close();
  return { spend: spendOf(served), byJob: byUser };
}

/** One measured batch on the account before the run, so `auto` routes by a measured turnaround. */
async function measureTurnaround(config: ReturnType<typeof loadConfig>): Promise<void> {
  const file = join(mkdtempSync(join(tmpdir(), 'promptq-bench-cost-')), 'warm.jsonl');
  writeFileSync(file, `${JSON.stringify({ id: 'warm', model, max_tokens: 8, prompt: 'warm up' })}\n`);
  // Its summary is not this bench's output.
  const write = process.stdout.write;
  process.stdout.write = (() => true) as typeof process.stdout.write;
  try {
    await runBackfill(
      file,
      {
        wait: true,
        dryRun: false,
        skipInvalid: false,
        priority: 500,
        countTokens: false,
        chunk: 1000,
        idPrefix: 'warm',
        json: true,
        via: 'batches',
        batchRetry: 'none',
        batchSize: 100,
      },
      config,
    );
  } finally {
    process.stdout.write = write;
  }
}

/** What a promptq run served and recorded. */
interface PromptqRun {
  spend: Spend;
  /** promptq's own figure: the jobs' `cost_usd`. */
  ownUsd: number;
  /** Interactive jobs' `queue_wait_ms`. */
  interactiveWaits: number[];
  deadlines: { met: number; of: number };
  routes: Record<string, number>;
}

/** promptq: the jobs enqueued as they arrive, with their deadlines when `routed`. */
async function viaPromptq(redisUrl: string, jobs: readonly CostJob[], routed: boolean): Promise<PromptqRun> {
  const { sim, served } = await recordingSim();
  const queueName = `bench-cost-${routed ? 'routed' : 'live'}-${Date.now()}`;
  const config = loadConfig({
    REDIS_URL: redisUrl,
    PROMPTQ_QUEUE: queueName,
    ANTHROPIC_API_KEY: apiKey,
    ANTHROPIC_BASE_URL: sim.url,
    PORT: '0',
    PROMPTQ_LOG_LEVEL: 'error',
    PROMPTQ_SHUTDOWN_TIMEOUT_MS: '1000',
    PROMPTQ_CONCURRENCY: '16',
  });
  if (routed) await measureTurnaround(config);
  // The warm-up batch is not the workload's.
  const warm = new Set((await listBatches(sim)).map((b) => b.id));
  const svc = await runService(config, { api: false, worker: true, embedRedis: false }, new Logger('error'));
  const queue = new PromptQueue({ redis: { url: redisUrl }, queue: queueName });
  const start = Date.now();
  const ids = await Promise.all(
    jobs.map(async (j) => {
      await sleep(j.arrivesAtMs - (Date.now() - start));
      const body = routed && j.deadline !== undefined ? { ...j.body, deadline: j.deadline } : j.body;
      return (await queue.add(body)).id;
    }),
  );
  const views = await Promise.all(ids.map((id) => queue.wait(id, 600_000)));
  const batched = await batchServed(sim, warm);
  await queue.close();
  await svc.close(true);
  await sim.close();
  const routes: Record<string, number> = {};
  let ownUsd = 0;
  const interactiveWaits: number[] = [];
  const deadlines = { met: 0, of: 0 };
  views.forEach((v, i) => {
    if (v === null || v.state !== 'completed') throw new Error(`job ${ids[i]} did not complete: ${v?.state}`);
    routes[v.record.route] = (routes[v.record.route] ?? 0) + 1;
    ownUsd += v.record.cost_usd ?? Number.NaN;
    if (jobs[i]!.interactive) interactiveWaits.push(v.record.queue_wait_ms ?? Number.NaN);
    const deadline = (v.request as { deadline?: string }).deadline;
    if (deadline !== undefined) {
      deadlines.of++;
      if (Date.parse(v.record.finished_at ?? '') <= Date.parse(deadline)) deadlines.met++;
    }
  });
  return { spend: spendOf([...served, ...batched]), ownUsd, interactiveWaits, deadlines, routes };
}

const usd = (n: number) => `$${n.toFixed(4)}`;
const ms = (n: number) => `${Math.round(n)} ms`;
const spendLine = (s: Spend) =>
  `${usd(s.usd)} (${s.requests} answers, ${s.batched} through batches; cache writes ${s.writes}, reads ${s.reads})`;

async function main(): Promise<number> {
  const jobs = workload(options);
  const interactive = jobs.filter((j) => j.interactive).length;
  console.log(
    `cost bench: ${jobs.length} jobs over ${options.seconds} s (${interactive} interactive, ${jobs.length - interactive} with deadlines of 2-8 h), ${options.groups} groups sharing a cacheable prefix, ${model}; seed ${options.seed}`,
  );
  const redis = new TestRedis();
  await redis.start();
  try {
    const n = await naive(jobs);
    const floor = floorOf(jobs, n.byJob);
    const routed = await viaPromptq(redis.url, jobs, true);
    const live = await viaPromptq(redis.url, jobs, false);
    console.log(`naive (every job live on arrival, as submitted): ${spendLine(n.spend)}`);
    console.log(
      `floor (interactive live, the rest at the Batches price, each prefix written once): ${usd(floor)}`,
    );
    for (const [name, r] of [
      ['promptq', routed],
      ['promptq without routing', live],
    ] as const) {
      console.log(
        `${name}: served ${spendLine(r.spend)}; promptq's own cost_usd ${usd(r.ownUsd)}; routes ${JSON.stringify(r.routes)}`,
      );
    }
    console.log(
      `spend ratio promptq/floor ${(routed.spend.usd / floor).toFixed(3)}, promptq/naive ${(routed.spend.usd / n.spend.usd).toFixed(3)} (floor/naive ${(floor / n.spend.usd).toFixed(3)}; without routing/naive ${(live.spend.usd / n.spend.usd).toFixed(3)})`,
    );
    console.log(`deadlines met: ${routed.deadlines.met} of ${routed.deadlines.of}`);
    console.log(
      `interactive jobs' wait p95: ${ms(percentile(routed.interactiveWaits, 95))} with routing, ${ms(percentile(live.interactiveWaits, 95))} without (p50 ${ms(percentile(routed.interactiveWaits, 50))} / ${ms(percentile(live.interactiveWaits, 50))})`,
    );
    return 0;
  } finally {
    await redis.stop();
  }
}

process.exitCode = await main();
