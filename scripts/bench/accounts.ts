/**
 * Benchmarks of several accounts (issue 26): promptq with an accounts file against simulators,
 * judged by what the simulators served (their own `onServed` reports), in real time.
 *
 * - A1: two Anthropic accounts with different request limits serve one queue: requests served in
 *   the window over the sum of both allowances (buckets start empty: no free first minute).
 * - A2: one Bedrock account (no rate-limit headers, a combined tokens-per-minute quota that
 *   reserves input + max_tokens): tokens the quota kept (input + output served) in the window over
 *   the quota.
 * - A3: jobs sharing cacheable prefixes over two accounts, served by two workers (each its own
 *   connections and router, as two processes): cache writes per prefix.
 *
 *   npm run bench:accounts -- [--seconds N] [--only A1|A2|A3] [--check]
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  type ServedResponse,
  type Simulator,
  type SimulatorOptions,
  startSimulator,
} from '../../packages/anthropic-simulator/src/index.js';
import { loadConfig } from '../../src/core/config.js';
import { Logger } from '../../src/core/log.js';
import { runService } from '../../src/ops/service.js';
import { PromptQueue } from '../../src/producer/queue.js';
import { TestRedis } from '../lib/redis-server.js';

const args = process.argv.slice(2);
const seconds = Number(args[args.indexOf('--seconds') + 1]) || 40;
const check = args.includes('--check');
/** `--only A2`: one scenario. */
const only = args.includes('--only') ? args[args.indexOf('--only') + 1] : undefined;

interface Served {
  at: number;
  served: ServedResponse;
}

/** A simulator that remembers what it served, when. */
async function recordingSim(opts: SimulatorOptions): Promise<{ sim: Simulator; served: Served[] }> {
  const served: Served[] = [];
  const sim = await startSimulator({
    ...opts,
    onServed: (s) => {
      if (s.outcome === 'completed') served.push({ at: Date.now(), served: s });
    },
  });
  return { sim, served };
}

/**
 * promptq (worker only) on a fresh queue with this accounts file: `workers` services, each with its
 * own Redis connections, router and limiters (as separate processes would have).
 */
async function promptq(redisUrl: string, accounts: unknown[], env: Record<string, string> = {}, workers = 1) {
  const dir = mkdtempSync(join(tmpdir(), 'promptq-bench-accounts-'));
  const file = join(dir, 'accounts.json');
  writeFileSync(file, JSON.stringify({ accounts }), { mode: 0o600 });
  const queueName = `bench-accounts-${Date.now()}`;
  const config = loadConfig({
    REDIS_URL: redisUrl,
    PROMPTQ_QUEUE: queueName,
    PROMPTQ_ACCOUNTS: file,
    PORT: '0',
    PROMPTQ_LOG_LEVEL: 'error',
    PROMPTQ_SHUTDOWN_TIMEOUT_MS: '1000',
    ...env,
  });
  const svcs: Array<Awaited<ReturnType<typeof runService>>> = [];
  for (let i = 0; i < workers; i++) {
    svcs.push(await runService(config, { api: false, worker: true, embedRedis: false }, new Logger('error')));
  }
  const queue = new PromptQueue({ redis: { url: redisUrl }, queue: queueName });
  return {
    queue,
    async close() {
      await queue.close();
      for (const svc of svcs) await svc.close(true);
    },
  };
}

async function feedJobs(queue: PromptQueue, jobs: unknown[]): Promise<void> {
  for (let i = 0; i < jobs.length; i += 500) await queue.addBatch(jobs.slice(i, i + 500));
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** What was served in each 5 s of the window (`weight`: per answer, 1 = calls): where a shortfall is. */
function perFiveSeconds(
  served: Served[],
  start: number,
  weight: (s: ServedResponse) => number = () => 1,
): string {
  const bins = Array.from({ length: Math.ceil(seconds / 5) }, () => 0);
  for (const x of served) {
    const i = Math.floor((x.at - start) / 5000);
    if (i >= 0 && i < bins.length) bins[i] = (bins[i] ?? 0) + weight(x.served);
  }
  return bins.join(' ');
}
const fast: SimulatorOptions = { ttftMs: 5, msPerToken: 0.05, startEmpty: true };

/** A1: two Anthropic accounts, 240 and 120 requests a minute. */
async function twoAccounts(redisUrl: string): Promise<number> {
  const rpm = { a: 240, b: 120 };
  process.env.BENCH_KEY_A = 'sk-ant-bench-a';
  process.env.BENCH_KEY_B = 'sk-ant-bench-b';
  const a = await recordingSim({
    ...fast,
    seed: 1,
    limits: { rpm: rpm.a, itpm: 10_000_000, otpm: 10_000_000 },
  });
  const b = await recordingSim({
    ...fast,
    seed: 2,
    limits: { rpm: rpm.b, itpm: 10_000_000, otpm: 10_000_000 },
  });
  const p = await promptq(redisUrl, [
    { name: 'a', provider: 'anthropic', api_key_env: 'BENCH_KEY_A', base_url: a.sim.url },
    { name: 'b', provider: 'anthropic', api_key_env: 'BENCH_KEY_B', base_url: b.sim.url },
  ]);
  const start = Date.now();
  const total = Math.ceil((((rpm.a + rpm.b) * seconds) / 60) * 1.3);
  await feedJobs(
    p.queue,
    Array.from({ length: total }, (_, i) => ({ model: 'claude-haiku-4-5', max_tokens: 16, prompt: `q${i}` })),
  );
  await sleep(seconds * 1000 - (Date.now() - start));
  const inWindow = (s: Served[]) => s.filter((x) => x.at - start <= seconds * 1000).length;
  const servedA = inWindow(a.served);
  const servedB = inWindow(b.served);
  const allowed = ((rpm.a + rpm.b) * seconds) / 60;
  const share = (servedA + servedB) / allowed;
  console.log(`   per 5 s: a ${perFiveSeconds(a.served, start)}; b ${perFiveSeconds(b.served, start)}`);
  console.log(
    `A1 two anthropic accounts (${rpm.a} + ${rpm.b} rpm, ${seconds} s from empty buckets): served ${servedA} + ${servedB} = ${servedA + servedB} of ${allowed} allowed → ${share.toFixed(3)} of the summed allowance; 429s ${a.sim.stats().rateLimited.total} + ${b.sim.stats().rateLimited.total}`,
  );
  await p.close();
  await a.sim.close();
  await b.sim.close();
  return share;
}

/** A2: a Bedrock account with a 60,000 tokens-per-minute quota, no headers. */
async function bedrockNoHeaders(redisUrl: string): Promise<number> {
  const tpm = 60_000;
  process.env.AWS_ACCESS_KEY_ID = 'AKIABENCHACCOUNTS01';
  process.env.AWS_SECRET_ACCESS_KEY = 'bench-secret-not-checked';
  const s = await recordingSim({
    ...fast,
    seed: 3,
    bedrockTpm: tpm,
    limits: { rpm: 100_000, itpm: 100_000_000, otpm: 100_000_000 },
  });
  const p = await promptq(redisUrl, [
    { name: 'aws', provider: 'bedrock', region: 'us-east-1', base_url: s.sim.url },
  ]);
  const start = Date.now();
  const maxTokens = 200;
  // More than the quota can take (a call keeps ~130 of its tokens): promptq never runs out of jobs.
  const total = Math.ceil(((tpm / 80) * seconds) / 60);
  await feedJobs(
    p.queue,
    Array.from({ length: total }, (_, i) => ({
      model: 'claude-sonnet-4-5',
      max_tokens: maxTokens,
      prompt: `question ${i}`,
    })),
  );
  await sleep(seconds * 1000 - (Date.now() - start));
  const kept = s.served
    .filter((x) => x.at - start <= seconds * 1000)
    .reduce((n, x) => n + x.served.usage.input_tokens + x.served.usage.output_tokens, 0);
  const allowed = (tpm * seconds) / 60;
  const share = kept / allowed;
  const tokens = (x: ServedResponse) => x.usage.input_tokens + x.usage.output_tokens;
  console.log(`   tokens per 5 s: ${perFiveSeconds(s.served, start, tokens)}`);
  console.log(
    `A2 bedrock, no headers (${tpm} tokens/min of input + max_tokens, ${seconds} s from empty): ${kept} tokens served of ${allowed} → ${share.toFixed(3)}; ${s.served.length} calls, ${s.sim.stats().rateLimited.total} ThrottlingExceptions`,
  );
  await p.close();
  await s.sim.close();
  return share;
}

/** A3: 20 prefixes × 10 jobs over two accounts, served by two workers (each its own router). */
async function sharedPrefix(redisUrl: string): Promise<number> {
  // (Set here too: `--only A3` runs no A1.)
  process.env.BENCH_KEY_A = 'sk-ant-bench-a';
  process.env.BENCH_KEY_B = 'sk-ant-bench-b';
  const a = await recordingSim({ seed: 4 });
  const b = await recordingSim({ seed: 5 });
  const p = await promptq(
    redisUrl,
    [
      { name: 'a', provider: 'anthropic', api_key_env: 'BENCH_KEY_A', base_url: a.sim.url },
      { name: 'b', provider: 'anthropic', api_key_env: 'BENCH_KEY_B', base_url: b.sim.url },
    ],
    { PROMPTQ_CONCURRENCY: '8' },
    2,
  );
  const prefixes = 20;
  const jobs = Array.from({ length: prefixes * 10 }, (_, i) => ({
    model: 'claude-sonnet-4-5',
    max_tokens: 16,
    system: [
      {
        type: 'text',
        text: `Prefix ${i % prefixes}. ${'Shared instructions. '.repeat(900)}`,
        cache_control: { type: 'ephemeral' },
      },
    ],
    prompt: `question ${i}`,
  }));
  await feedJobs(p.queue, jobs);
  const deadline = Date.now() + 120_000;
  while (a.served.length + b.served.length < jobs.length && Date.now() < deadline) await sleep(100);
  const writes = (s: Served[]) =>
    s.filter((x) => (x.served.usage.cache_creation_input_tokens ?? 0) > 0).length;
  const perPrefix = (writes(a.served) + writes(b.served)) / prefixes;
  console.log(
    `A3 shared prefix over two accounts, two workers (${prefixes} prefixes × 10 jobs): cache writes ${writes(a.served)} on a + ${writes(b.served)} on b = ${perPrefix.toFixed(2)} per prefix (served ${a.served.length} + ${b.served.length})`,
  );
  await p.close();
  await a.sim.close();
  await b.sim.close();
  return perPrefix;
}

async function main(): Promise<number> {
  const redis = new TestRedis();
  await redis.start();
  try {
    const run = (id: string) => only === undefined || only === id;
    const a1 = run('A1') ? await twoAccounts(redis.url) : 1;
    const a2 = run('A2') ? await bedrockNoHeaders(redis.url) : 1;
    const a3 = run('A3') ? await sharedPrefix(redis.url) : 1;
    const misses = [
      a1 < 0.95 ? `A1 ${a1.toFixed(3)} < 0.95` : '',
      a2 < 0.9 ? `A2 ${a2.toFixed(3)} < 0.90` : '',
      a3 > 1 ? `A3 ${a3.toFixed(2)} writes per prefix > 1` : '',
    ].filter(Boolean);
    if (misses.length > 0) console.log(`missed: ${misses.join('; ')}`);
    return check && misses.length > 0 ? 1 : 0;
  } finally {
    await redis.stop();
  }
}

// Exit when done: a worker closed with force keeps its connections (ops/start-worker.ts), so the
// process would not end by itself.
process.exit(await main());
