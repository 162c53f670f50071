/**
 * Unknown model names cannot slow known ones (issue 24, item 5): the throughput of jobs on a known
 * model (claude-haiku-4-5) through one promptq worker, alone and under a flood of jobs naming
 * made-up models (each a different name, which the simulator, like the API, answers 404), enqueued
 * with them, interleaved, at the same priority. Prints both rates and their ratio; exits 1 below 0.9.
 *
 *   node --conditions=source --import tsx scripts/bench/unknown-models.ts [KNOWN] [UNKNOWN]
 *
 * Starts its own redis-server (needs `redis-server` on PATH) and simulator (100 ms to first token,
 * 1,200 requests a minute per model group).
 */
import { randomUUID } from 'node:crypto';
import { startSimulator } from '@promptq/anthropic-simulator';
import { loadConfig } from '../../src/core/config.js';
import { Logger } from '../../src/core/log.js';
import { runService } from '../../src/ops/service.js';
import { TestRedis } from '../lib/redis-server.js';

const known = Number(process.argv[2] ?? 300);
const unknown = Number(process.argv[3] ?? 900);

interface Run {
  knownPerSecond: number;
  knownSeconds: number;
  unknownFinished: number;
  /** Jobs handed back by the limiter to wait out their group's pace (`promptq_limiter_deferrals_total`), by group. */
  deferrals: Record<string, number>;
}

async function run(redisUrl: string, flood: number): Promise<Run> {
  const sim = await startSimulator({
    // The known model's allowance binds (1,200 requests a minute), as the API's does in production:
    // what the flood must not take is that allowance, nor the worker's slots.
    limits: { rpm: 1200, itpm: 1_000_000_000, otpm: 1_000_000_000 },
    ttftMs: 100,
    msPerToken: 0,
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
  try {
    // The flood arrives with the known jobs, interleaved (FIFO at one priority: a junk job ahead of
    // a known one delays it only as long as the junk job takes).
    const body = { model: 'claude-haiku-4-5', max_tokens: 16, prompt: 'Say hello' };
    const perKnown = Math.ceil(flood / known);
    const all = Array.from({ length: known }, (_, k) => [
      ...Array.from({ length: Math.min(perKnown, Math.max(0, flood - k * perKnown)) }, (_, j) => ({
        model: `made-up-model-${k}-${j}-${randomUUID().slice(0, 6)}`,
        max_tokens: 16,
        prompt: 'junk',
      })),
      body,
    ]).flat();
    const t0 = performance.now();
    const ids: string[] = [];
    for (let i = 0; i < all.length; i += 500) {
      const slice = all.slice(i, i + 500);
      const added = (await svc.queue.addBatch(slice)).ids;
      ids.push(...added.filter((_, j) => slice[j] === body));
    }
    let done = 0;
    while (done < ids.length) {
      const views = await Promise.all(ids.map((id) => svc.queue.get(id)));
      done = views.filter((v) => v?.state === 'completed' || v?.state === 'failed').length;
      if (done < ids.length) await new Promise((r) => setTimeout(r, 100));
    }
    const knownSeconds = (performance.now() - t0) / 1000;
    const counts = await svc.queue.queue.getJobCounts('completed', 'failed');
    const deferrals: Record<string, number> = {};
    for (const line of (await svc.metrics.text()).split('\n')) {
      const m = /^promptq_limiter_deferrals_total\{.*group="([^"]+)".*\} (\S+)$/.exec(line);
      if (m) deferrals[m[1]!] = (deferrals[m[1]!] ?? 0) + Number(m[2]);
    }
    return {
      knownPerSecond: known / knownSeconds,
      knownSeconds,
      unknownFinished: (counts.completed ?? 0) + (counts.failed ?? 0) - known,
      deferrals,
    };
  } finally {
    await svc.close();
    await sim.close();
  }
}

const redis = new TestRedis();
await redis.start();
try {
  const alone = await run(redis.url, 0);
  const flooded = await run(redis.url, unknown);
  const ratio = flooded.knownPerSecond / alone.knownPerSecond;
  const f = (n: number) => n.toFixed(1);
  console.log(
    `unknown models: ${known} jobs on claude-haiku-4-5, concurrency 32, 100 ms per call, 1,200 requests/min`,
  );
  console.log(
    `  alone:                         ${f(alone.knownPerSecond)} jobs/s (${f(alone.knownSeconds)} s)`,
  );
  console.log(
    `  under ${unknown} made-up names: ${f(flooded.knownPerSecond)} jobs/s (${f(flooded.knownSeconds)} s; ` +
      `${flooded.unknownFinished} of the made-up ones finished meanwhile)`,
  );
  console.log(
    `  deferrals by group: alone ${JSON.stringify(alone.deferrals)}, flooded ${JSON.stringify(flooded.deferrals)}`,
  );
  console.log(`  ratio ${ratio.toFixed(2)} (target >= 0.90) ${ratio >= 0.9 ? 'ok' : 'MISSED'}`);
  process.exitCode = ratio >= 0.9 ? 0 : 1;
} finally {
  await redis.destroy();
}
