/**
 * Sizing figures for docs/sizing.md, measured on a private redis-server: N jobs through the HTTP
 * API (batches of 100) into one in-process worker against the simulator (no API limits, no
 * latency), then from Redis itself (`INFO commandstats`, `INFO cpu`, `INFO memory`):
 *
 * - Redis commands per job (every command any promptq component sent: enqueue, fetch, lock
 *   renewals, record writes, rollups, limiter, completion, the queue gauges of one /metrics scrape
 *   per second), each command's share per job;
 * - Redis CPU per job, and so the jobs/s one Redis core sustains before Redis is the bottleneck;
 * - memory per 1,000 retained (completed, kept) jobs, at the prompt and answer size used.
 *
 *   node --conditions=source --import tsx scripts/sizing.ts [--jobs 5000] [--concurrency 64] [--mode single|cluster]
 *        [--by-script]   watch Redis with MONITOR: EVALSHA per script name, and what each script ran
 *        [--plain]       the same jobs through a plain BullMQ worker streaming each job through the SDK
 *        [--unknown]     every job names a made-up model (a different name each; the API's 404): what a
 *                        failed unknown-model job costs
 *
 * With `--mode cluster` it starts a 3-primary Redis Cluster and sums the figures over its primaries.
 * `--by-script` slows Redis down (MONITOR): read its counts, not its rates.
 */
import { parseArgs } from 'node:util';
import Anthropic from '@anthropic-ai/sdk';
import { Queue, Worker } from 'bullmq';
import { startSimulator } from '../packages/anthropic-simulator/src/index.js';
import { loadConfig } from '../src/core/config.js';
import { Logger } from '../src/core/log.js';
import { runService } from '../src/ops/service.js';
import { nodeCommand, TestCluster } from './lib/redis-cluster.js';
import {
  commandDelta,
  monitorProfile,
  type Profile,
  parseCommandStats,
  parseInfo,
} from './lib/redis-commands.js';
import { TestRedis } from './lib/redis-server.js';

const { values } = parseArgs({
  options: {
    jobs: { type: 'string', default: '5000' },
    concurrency: { type: 'string', default: '64' },
    mode: { type: 'string', default: 'single' },
    'by-script': { type: 'boolean', default: false },
    plain: { type: 'boolean', default: false },
    unknown: { type: 'boolean', default: false },
  },
});
const n = Number(values.jobs);
const mode = values.mode === 'cluster' ? 'cluster' : 'single';
if (values['by-script'] && mode === 'cluster') throw new Error('--by-script watches one redis-server');

const single = mode === 'single' ? new TestRedis() : undefined;
const cluster = mode === 'cluster' ? new TestCluster() : undefined;
await (single ?? cluster)!.start();
const url = single?.url ?? cluster!.url;
const ports = async () => (single ? [single.port] : await cluster!.primaries());

async function snapshot() {
  const calls = new Map<string, number>();
  let cpu = 0;
  let memory = 0;
  for (const port of await ports()) {
    for (const [k, v] of parseCommandStats(String(await nodeCommand(port, 'INFO', 'commandstats')))) {
      calls.set(k, (calls.get(k) ?? 0) + v);
    }
    const info = parseInfo(String(await nodeCommand(port, 'INFO')));
    cpu += Number(info.get('used_cpu_sys')) + Number(info.get('used_cpu_user'));
    memory += Number(info.get('used_memory'));
  }
  return { calls, cpu, memory };
}

// Limits far above what one machine sends: the headers end the limiter's discovery at once.
const sim = await startSimulator({
  seed: 3,
  limits: { rpm: 600_000, itpm: 100_000_000, otpm: 100_000_000 },
  ttftMs: 0,
  msPerToken: 0,
});
const apiKey = 'sk-ant-sizing-0123456789';
const prompt = 'Summarise the following paragraph in one sentence. '.repeat(8); // ~400 characters
const jobAt = (i: number) => ({
  model: values.unknown ? `made-up-model-${i}` : 'claude-haiku-4-5',
  max_tokens: 100,
  prompt: `${prompt} #${i}`,
  tenant_id: `tenant-${i % 10}`,
});

/** promptq: the HTTP API in, one worker, a /metrics scrape a second. */
async function runPromptq() {
  const config = loadConfig({
    REDIS_URL: url,
    PROMPTQ_REDIS_MODE: mode,
    ANTHROPIC_API_KEY: apiKey,
    ANTHROPIC_BASE_URL: sim.url,
    PORT: '0',
    PROMPTQ_CONCURRENCY: values.concurrency,
    PROMPTQ_LOG_LEVEL: 'silent',
  });
  const svc = await runService(config, { api: true, worker: true, embedRedis: false }, new Logger('silent'));
  const scrape = setInterval(() => void fetch(`${svc.url}/metrics`).then((r) => r.text()), 1000);
  return {
    async enqueue(from: number, count: number) {
      const jobs = Array.from({ length: count }, (_, k) => jobAt(from + k));
      const res = await fetch(`${svc.url}/v1/jobs/batch`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ jobs }),
      });
      if (res.status !== 202) throw new Error(`batch: ${res.status} ${await res.text()}`);
    },
    counts: () => svc.queue.queue.getJobCounts('completed', 'failed'),
    async close() {
      clearInterval(scrape);
      await svc.close();
    },
  };
}

/** The baseline: Queue.addBulk in, a BullMQ worker streaming each job through the SDK, with attempts. */
async function runPlain() {
  if (mode !== 'single') throw new Error('--plain runs on one redis-server');
  const connection = { host: '127.0.0.1', port: single!.port, maxRetriesPerRequest: null };
  const client = new Anthropic({ apiKey, baseURL: sim.url, maxRetries: 0 });
  const queue = new Queue('plain', { connection });
  const worker = new Worker(
    'plain',
    async (job) => {
      const { prompt: text, ...rest } = job.data as ReturnType<typeof jobAt>;
      const stream = client.messages.stream({
        model: rest.model,
        max_tokens: rest.max_tokens,
        messages: [{ role: 'user', content: text }],
      });
      return (await stream.finalMessage()).usage;
    },
    {
      connection,
      concurrency: Number(values.concurrency),
      removeOnComplete: { age: 7 * 86_400 },
      removeOnFail: { age: 30 * 86_400 },
    },
  );
  await worker.waitUntilReady();
  return {
    async enqueue(from: number, count: number) {
      await queue.addBulk(
        Array.from({ length: count }, (_, k) => ({
          name: 'prompt',
          data: jobAt(from + k),
          opts: { attempts: 5, backoff: { type: 'exponential', delay: 1000 } },
        })),
      );
    },
    counts: () => queue.getJobCounts('completed', 'failed'),
    async close() {
      await worker.close();
      await queue.close();
    },
  };
}

const pipeline = values.plain ? await runPlain() : await runPromptq();
for (const port of await ports()) await nodeCommand(port, 'CONFIG', 'RESETSTAT');
const monitor = values['by-script'] ? await monitorProfile(url) : undefined;
const before = await snapshot();
const t0 = performance.now();
for (let i = 0; i < n; i += 100) await pipeline.enqueue(i, Math.min(100, n - i));
for (;;) {
  const c = await pipeline.counts();
  if ((c.completed ?? 0) + (c.failed ?? 0) >= n) break;
  await new Promise((r) => setTimeout(r, 100));
}
const seconds = (performance.now() - t0) / 1000;
const after = await snapshot();
const profile = await monitor?.stop();
await pipeline.close();

const perCommand = commandDelta(before.calls, after.calls);
const total = perCommand.reduce((a, [, c]) => a + c, 0);
const cpuPerJobMs = ((after.cpu - before.cpu) / n) * 1000;
const perJob = (k: number) => Number((k / n).toFixed(2));
const result = {
  pipeline: values.plain ? 'plain BullMQ worker + SDK stream' : 'promptq',
  mode,
  jobs_on: values.unknown ? 'made-up model names (each failed: 404)' : 'claude-haiku-4-5',
  jobs: n,
  seconds: Number(seconds.toFixed(1)),
  jobs_per_second: Math.round(n / seconds),
  commands_per_job: Number((total / n).toFixed(1)),
  commands_per_job_by_command: Object.fromEntries(perCommand.map(([c, k]) => [c, perJob(k)])),
  ...(profile ? { by_source_per_job: bySource(profile) } : {}),
  redis_cpu_ms_per_job: Number(cpuPerJobMs.toFixed(3)),
  jobs_per_second_per_redis_core: Math.round(1000 / cpuPerJobMs),
  memory_mb_per_1000_retained_jobs: Number(
    ((((after.memory - before.memory) / n) * 1000) / 2 ** 20).toFixed(2),
  ),
};
process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);

/** Per source (a script, or `direct`): its calls per job, and the commands it ran per job. */
function bySource(p: Profile) {
  return Object.fromEntries(
    [...p]
      .map(([source, cmds]) => {
        const all = [...cmds].reduce((a, [, c]) => a + c, 0);
        const ran = [...cmds].sort((a, b) => b[1] - a[1]).filter(([, c]) => perJob(c) > 0);
        return [source, all, Object.fromEntries(ran.map(([c, k]) => [c, perJob(k)]))] as const;
      })
      .sort((a, b) => b[1] - a[1])
      .map(([source, all, cmds]) => [source, { commands: perJob(all), ...cmds }]),
  );
}

await sim.close();
await (single ?? cluster)!.destroy();
