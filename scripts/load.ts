/**
 * Load run: N jobs through the HTTP API (batches of 1000) into W `promptq worker` processes against
 * the simulator with faults on; then accounts for every job and reports throughput and worker RSS.
 *
 *   node --import tsx scripts/load.ts [--jobs 10000] [--workers 4]
 *
 * Uses REDIS_URL when set, else starts a private redis-server. The chaos test (test/chaos/load.test.ts)
 * runs the same function and asserts on its result.
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { Redis } from 'ioredis';
import { startSimulator } from '../packages/anthropic-simulator/src/index.js';
import { bullJobId, Keyspace } from '../src/store/keys.js';
import { type CliProcess, spawnCli } from '../test/helpers/cli.js';
import { TestRedis } from '../test/helpers/redis-server.js';

export interface LoadOptions {
  /** @defaultValue `10000` */
  jobs?: number;
  /** @defaultValue `4` */
  workers?: number;
  /** Jobs in flight per worker. @defaultValue `16` */
  concurrency?: number;
  /** A Redis to use; a private redis-server is started when absent. */
  redisUrl?: string;
  /** Workers' V8 old-space cap in MB. @defaultValue `128` */
  heapCapMb?: number;
  /** Progress lines (to stderr in the script). */
  progress?: (line: string) => void;
}

export interface LoadResult {
  jobs: number;
  completed: number;
  failed: number;
  /** Ids that are in neither or both of completed/failed (must be empty). */
  unaccounted: string[];
  /** Sum over workers of `promptq_jobs_total` (must equal `jobs`: each job counted once). */
  jobsCounted: number;
  apiCalls: number;
  faults: { overloaded: number; apiErrors: number; drops: number };
  enqueueSeconds: number;
  runSeconds: number;
  jobsPerSecond: number;
  /** Per worker: RSS samples in MB, one per second. */
  rss: number[][];
  /** Per worker: mean RSS of the last quarter over the first quarter after warm-up. */
  rssGrowth: number[];
}

function rssMb(pid: number): number | null {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) / 1024 : null;
  } catch {
    return null;
  }
}

const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length);

/** Mean of the last quarter over the first quarter, after dropping the first 20 % as warm-up. */
export function growth(samples: number[]): number {
  const s = samples.slice(Math.floor(samples.length * 0.2));
  const q = Math.max(1, Math.floor(s.length / 4));
  return mean(s.slice(-q)) / mean(s.slice(0, q));
}

function metricSum(text: string, name: string): number {
  let sum = 0;
  for (const line of text.split('\n')) if (line.startsWith(`${name}{`)) sum += Number(line.split(' ').pop());
  return sum;
}

export async function runLoad(opts: LoadOptions = {}): Promise<LoadResult> {
  const n = opts.jobs ?? 10_000;
  const say = opts.progress ?? (() => {});
  let ownRedis: TestRedis | undefined;
  let redisUrl = opts.redisUrl;
  if (redisUrl === undefined) {
    ownRedis = new TestRedis();
    await ownRedis.start();
    redisUrl = ownRedis.url;
  }
  const sim = await startSimulator({
    seed: 21,
    faults: { overloaded: 0.02, apiError: 0.01, drop: 0.01 },
    // Generous limits: the run measures promptq, not the API's pace.
    limits: { rpm: 1_000_000, itpm: 0, otpm: 0 },
    ttftMs: 10,
    msPerToken: 0.1,
    output: { cap: 100 },
  });
  const queue = `load-${Date.now().toString(36)}`;
  const env = {
    REDIS_URL: redisUrl,
    ANTHROPIC_API_KEY: 'sk-ant-load-000000000000',
    ANTHROPIC_BASE_URL: sim.url,
    PROMPTQ_QUEUE: queue,
    PORT: '0',
    PROMPTQ_LOG_LEVEL: 'warn',
    PROMPTQ_RETRY_BASE_MS: '50',
    PROMPTQ_CONCURRENCY: String(opts.concurrency ?? 16),
  };
  const procs: CliProcess[] = [];
  const redis = new Redis(redisUrl);
  try {
    const api = spawnCli(['api'], { ...env, PROMPTQ_LOG_LEVEL: 'info' });
    procs.push(api);
    const apiUrl = String((await api.waitForLog((l) => l.msg === 'promptq running', 30_000)).url);
    const workers = await startWorkers(env, opts.workers ?? 4, opts.heapCapMb ?? 128, procs);
    const rss: number[][] = workers.map(() => []);
    const sampler = setInterval(() => {
      workers.forEach((w, i) => {
        const mb = w.proc.pid === undefined ? null : rssMb(w.proc.pid);
        if (mb !== null) rss[i]!.push(mb);
      });
    }, 1000);

    const t0 = Date.now();
    const ids = await enqueueJobs(apiUrl, n);
    const enqueueSeconds = (Date.now() - t0) / 1000;
    say(`enqueued ${n} jobs in ${enqueueSeconds.toFixed(1)} s`);
    await waitFinished(redis, queue, n, procs, (finished) =>
      say(`${finished}/${n} finished after ${((Date.now() - t0) / 1000).toFixed(0)} s`),
    );
    const runSeconds = (Date.now() - t0) / 1000;
    clearInterval(sampler);

    const completedIds = new Set(await redis.zrange(new Keyspace({ queue }).bullmq('completed'), 0, -1));
    const failedIds = new Set(await redis.zrange(new Keyspace({ queue }).bullmq('failed'), 0, -1));
    // BullMQ holds promptq's jobs under their BullMQ ids (`pq.<id>`).
    const unaccounted = ids.filter((id) => completedIds.has(bullJobId(id)) === failedIds.has(bullJobId(id)));
    let jobsCounted = 0;
    for (const w of workers)
      jobsCounted += metricSum(await (await fetch(`${w.url}/metrics`)).text(), 'promptq_jobs_total');
    const served = sim.stats();
    return {
      jobs: n,
      completed: completedIds.size,
      failed: failedIds.size,
      unaccounted,
      jobsCounted,
      apiCalls: served.requests,
      faults: { overloaded: served.overloaded, apiErrors: served.apiErrors, drops: served.drops },
      enqueueSeconds,
      runSeconds,
      jobsPerSecond: n / runSeconds,
      rss,
      rssGrowth: rss.map(growth),
    };
  } finally {
    for (const p of procs) {
      if (p.proc.exitCode === null) {
        p.proc.kill('SIGTERM');
        await p.exited;
      }
    }
    // Leave nothing behind in a shared Redis.
    const keys = await redis.keys(new Keyspace({ queue }).pattern);
    for (let i = 0; i < keys.length; i += 1000) await redis.del(...keys.slice(i, i + 1000));
    redis.disconnect();
    await sim.close();
    await ownRedis?.destroy();
  }
}

/** `count` worker processes, each running (added to `procs` as they start, so they are stopped). */
async function startWorkers(
  env: Record<string, string>,
  count: number,
  heapCapMb: number,
  procs: CliProcess[],
): Promise<Array<CliProcess & { url: string }>> {
  const workers: Array<CliProcess & { url: string }> = [];
  for (let i = 0; i < count; i++) {
    // A capped old space makes V8 collect instead of growing its heap lazily, so RSS growth over
    // the run shows what is really retained (a leak then also ends in a crash, which is caught).
    const w = spawnCli(['worker'], {
      ...env,
      PROMPTQ_LOG_LEVEL: 'info',
      NODE_OPTIONS: `--max-old-space-size=${heapCapMb}`,
    });
    procs.push(w);
    const running = await w.waitForLog((l) => l.msg === 'promptq running', 30_000);
    workers.push(Object.assign(w, { url: String(running.url) }));
  }
  return workers;
}

/** `n` jobs through `POST /v1/jobs/batch`, 1000 at a time; their ids. */
async function enqueueJobs(apiUrl: string, n: number): Promise<string[]> {
  const ids: string[] = [];
  for (let off = 0; off < n; off += 1000) {
    const size = Math.min(1000, n - off);
    const jobs = Array.from({ length: size }, (_, i) => ({
      model: 'claude-haiku-4-5',
      max_tokens: 100,
      prompt: `load job ${off + i}`,
      tenant_id: `tenant-${(off + i) % 7}`,
    }));
    const res = await fetch(`${apiUrl}/v1/jobs/batch`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ jobs }),
    });
    if (res.status !== 202) throw new Error(`batch refused: ${res.status} ${await res.text()}`);
    ids.push(...((await res.json()) as { ids: string[] }).ids);
  }
  return ids;
}

/** Until `n` jobs are completed or failed; throws when a promptq process dies. Progress every 5 s. */
async function waitFinished(
  redis: Redis,
  queue: string,
  n: number,
  procs: CliProcess[],
  progress: (finished: number) => void,
): Promise<void> {
  let finished = 0;
  let lastReport = Date.now();
  while (finished < n) {
    await new Promise((r) => setTimeout(r, 250));
    const [completed, failed] = await Promise.all([
      redis.zcard(new Keyspace({ queue }).bullmq('completed')),
      redis.zcard(new Keyspace({ queue }).bullmq('failed')),
    ]);
    finished = completed + failed;
    if (Date.now() - lastReport > 5000) {
      progress(finished);
      lastReport = Date.now();
    }
    for (const p of procs)
      if (p.proc.exitCode !== null) throw new Error(`a promptq process died:\n${p.stderr()}`);
  }
}

function table(r: LoadResult): string {
  const rows: Array<[string, string]> = [
    ['jobs', String(r.jobs)],
    ['completed / failed', `${r.completed} / ${r.failed}`],
    ['unaccounted', String(r.unaccounted.length)],
    ['counted in promptq_jobs_total', String(r.jobsCounted)],
    [
      'API calls (529 / 500 / drop)',
      `${r.apiCalls} (${r.faults.overloaded} / ${r.faults.apiErrors} / ${r.faults.drops})`,
    ],
    ['enqueue (s)', r.enqueueSeconds.toFixed(1)],
    ['run (s)', r.runSeconds.toFixed(1)],
    ['jobs/s', r.jobsPerSecond.toFixed(0)],
    ...r.rss.map((s, i): [string, string] => [
      `worker ${i + 1} RSS MB (min/max, growth)`,
      `${Math.min(...s).toFixed(0)}/${Math.max(...s).toFixed(0)}, ×${r.rssGrowth[i]!.toFixed(2)}`,
    ]),
  ];
  const w = Math.max(...rows.map(([k]) => k.length));
  const series = r.rss.map(
    (s, i) =>
      `worker ${i + 1} RSS MB every 5 s: ${s
        .filter((_, j) => j % 5 === 0)
        .map((x) => x.toFixed(0))
        .join(' ')}`,
  );
  return [...rows.map(([k, v]) => `${k.padEnd(w)}  ${v}`), ...series].join('\n');
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { values } = parseArgs({ options: { jobs: { type: 'string' }, workers: { type: 'string' } } });
  const result = await runLoad({
    jobs: values.jobs ? Number(values.jobs) : undefined,
    workers: values.workers ? Number(values.workers) : undefined,
    redisUrl: process.env.REDIS_URL,
    progress: (l) => process.stderr.write(`${l}\n`),
  });
  process.stdout.write(`${table(result)}\n`);
  process.exit(result.unaccounted.length === 0 && result.jobsCounted === result.jobs ? 0 : 1);
}
