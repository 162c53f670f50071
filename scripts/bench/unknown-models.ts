/**
 * Unknown model names cannot slow known ones (issue 24, item 5): the throughput of jobs on a known
 * model (claude-haiku-4-5) through one promptq worker, alone and under a flood of jobs naming
 * made-up models (each a different name, which the simulator, like the API, answers 404), enqueued
 * with them, interleaved, at the same priority. Each round runs both, alone first; prints each
 * round's rates, their ratio and what the flood cost (pickups and deferrals per job, Redis commands),
 * then the median ratio over the rounds; exits 1 when the median is below 0.9.
 *
 *   node --conditions=source --import tsx scripts/bench/unknown-models.ts [KNOWN] [UNKNOWN] [ROUNDS] [--no-headers]
 *
 * `--no-headers`: the simulator sends no rate-limit headers (a gateway in between), so the known
 * model's limit is learned, not announced.
 *
 * Starts its own redis-server (needs `redis-server` on PATH) and simulator (100 ms to first token,
 * 1,200 requests a minute per model group).
 */
import { randomUUID } from 'node:crypto';
import { startSimulator } from '@promptq/anthropic-simulator';
import { Redis } from 'ioredis';
import { loadConfig } from '../../src/core/config.js';
import { Logger } from '../../src/core/log.js';
import { runService } from '../../src/ops/service.js';
import { TestRedis } from '../lib/redis-server.js';
import { medianOf } from './median.js';

const args = process.argv.slice(2);
const noHeaders = args.includes('--no-headers');
const [knownArg, unknownArg, roundsArg] = args.filter((a) => !a.startsWith('--'));
const known = Number(knownArg ?? 300);
const unknown = Number(unknownArg ?? 900);
const rounds = Number(roundsArg ?? 3);

interface Run {
  knownPerSecond: number;
  knownSeconds: number;
  unknownFinished: number;
  /** Times the worker took a job (BullMQ's `active`): once per job, plus once per hand-back. */
  pickups: number;
  /** Jobs handed back by the limiter to wait out their group's pace (`promptq_limiter_deferrals_total`), by group. */
  deferrals: Record<string, number>;
  /** Commands Redis processed while the known jobs ran (the bench's own polling included: one a 50 ms). */
  redisCommands: number;
}

/** The jobs: `flood` made-up names spread evenly before the known ones (FIFO at one priority). */
function jobs(flood: number, body: object): object[] {
  const perKnown = Math.ceil(flood / known);
  return Array.from({ length: known }, (_, k) => [
    ...Array.from({ length: Math.min(perKnown, Math.max(0, flood - k * perKnown)) }, (_, j) => ({
      model: `made-up-model-${k}-${j}-${randomUUID().slice(0, 6)}`,
      max_tokens: 16,
      prompt: 'junk',
    })),
    body,
  ]).flat();
}

const commandsProcessed = async (r: Redis) =>
  Number(/total_commands_processed:(\d+)/.exec(await r.info('stats'))?.[1] ?? 0);

async function run(redisUrl: string, flood: number): Promise<Run> {
  const sim = await startSimulator({
    // The known model's allowance binds (1,200 requests a minute), as the API's does in production:
    // what the flood must not take is that allowance, nor the worker's slots.
    limits: { rpm: 1200, itpm: 1_000_000_000, otpm: 1_000_000_000 },
    ttftMs: 100,
    msPerToken: 0,
    ...(noHeaders ? { rateLimitHeaders: false } : {}),
  });
  const config = loadConfig({
    REDIS_URL: redisUrl,
    ANTHROPIC_API_KEY: 'sk-ant-bench-unknown-0000000000',
    ANTHROPIC_BASE_URL: sim.url,
    PROMPTQ_QUEUE: `bench-unknown-${randomUUID().slice(0, 8)}`,
    PROMPTQ_CONCURRENCY: '32',
    PORT: '0',
  });
  const svc = await runService(config, { api: false, worker: true, embedRedis: false }, new Logger('error'));
  const probe = new Redis(redisUrl);
  let pickups = 0;
  svc.worker?.worker.on('active', () => pickups++);
  try {
    const body = { model: 'claude-haiku-4-5', max_tokens: 16, prompt: 'Say hello' };
    const all = jobs(flood, body);
    const commands0 = await commandsProcessed(probe);
    const t0 = performance.now();
    for (let i = 0; i < all.length; i += 500) await svc.queue.addBatch(all.slice(i, i + 500));
    // Only the known jobs complete (the made-up ones fail): their count says when they are done.
    while (((await svc.queue.queue.getJobCounts('completed')).completed ?? 0) < known) {
      await new Promise((r) => setTimeout(r, 50));
    }
    const knownSeconds = (performance.now() - t0) / 1000;
    const redisCommands = (await commandsProcessed(probe)) - commands0;
    const failed = (await svc.queue.queue.getJobCounts('failed')).failed ?? 0;
    const deferrals: Record<string, number> = {};
    for (const line of (await svc.metrics.text()).split('\n')) {
      const m = /^promptq_limiter_deferrals_total\{.*group="([^"]+)".*\} (\S+)$/.exec(line);
      if (m) deferrals[m[1]!] = (deferrals[m[1]!] ?? 0) + Number(m[2]);
    }
    return {
      knownPerSecond: known / knownSeconds,
      knownSeconds,
      unknownFinished: failed,
      pickups,
      deferrals,
      redisCommands,
    };
  } finally {
    probe.disconnect();
    await svc.close();
    await sim.close();
  }
}

const f = (n: number) => n.toFixed(1);
const describe = (r: Run, jobsRun: number) =>
  `${f(r.knownPerSecond)} jobs/s (${f(r.knownSeconds)} s; ${r.pickups} pickups for ${jobsRun} jobs, ` +
  `deferrals ${JSON.stringify(r.deferrals)}, ${Math.round(r.redisCommands / jobsRun)} Redis commands a job)`;

const redis = new TestRedis();
await redis.start();
try {
  console.log(
    `unknown models: ${known} jobs on claude-haiku-4-5, concurrency 32, 100 ms per call, 1,200 requests/min; ` +
      `${rounds} rounds${noHeaders ? ', no rate-limit headers (a gateway)' : ''}`,
  );
  const ratios: number[] = [];
  for (let round = 1; round <= rounds; round++) {
    const alone = await run(redis.url, 0);
    const flooded = await run(redis.url, unknown);
    const ratio = flooded.knownPerSecond / alone.knownPerSecond;
    ratios.push(ratio);
    const jobsRun = known + flooded.unknownFinished;
    console.log(`round ${round}:`);
    console.log(`  alone:                    ${describe(alone, known)}`);
    console.log(`  under ${unknown} made-up names: ${describe(flooded, jobsRun)}`);
    console.log(`    (${flooded.unknownFinished} of the made-up ones finished meanwhile)`);
    console.log(`  ratio ${ratio.toFixed(2)} ${ratio >= 0.9 ? 'ok' : 'MISSED'}`);
  }
  const median = medianOf(ratios) ?? 0;
  console.log(
    `ratio by round ${ratios.map((r) => r.toFixed(2)).join(' / ')}; median ${median.toFixed(2)} ` +
      `(target >= 0.90) ${median >= 0.9 ? 'ok' : 'MISSED'}`,
  );
  process.exitCode = median >= 0.9 ? 0 : 1;
} finally {
  await redis.destroy();
}
