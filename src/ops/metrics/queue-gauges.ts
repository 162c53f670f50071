/**
 * Queue-wide gauges read from Redis at scrape time: the same value from every process, so
 * dashboards take `max` of them (docs/reference/metrics.md).
 */
import type { Queue } from 'bullmq';
import { Gauge } from 'prom-client';
import type { RedisConnection } from '../../store/connection.js';
import type { Keyspace } from '../../store/keys.js';
import type { Metrics } from './metrics.js';

/** BullMQ states → the documented `state` label (prioritized jobs are waiting too). */
const states = ['waiting', 'delayed', 'active', 'completed', 'failed'] as const;

/** Age of the oldest job still waiting, sampling the wait list's tail and the first prioritized jobs. */
async function oldestWaitingSeconds(queue: Queue, reads?: GaugeReads): Promise<number> {
  const stamps = reads ? await sampledTimestamps(reads) : await sampledJobTimestamps(queue);
  let oldest = Number.POSITIVE_INFINITY;
  for (const t of stamps) if (t > 0) oldest = Math.min(oldest, t);
  return Number.isFinite(oldest) ? Math.max(0, (Date.now() - oldest) / 1000) : 0;
}

/**
 * The sampled jobs' `timestamp` fields alone, from the queue's keys: one round trip for the ids (the
 * wait list's tail, the first 100 prioritized), one for their timestamps (one HGET each). Reading
 * whole jobs (BullMQ's `getJobs`) cost two HGETALL per sampled job, prompts included, every scrape.
 */
async function sampledTimestamps({ connection, keys }: GaugeReads): Promise<number[]> {
  const ids = (await connection
    .pipeline()
    .lindex(keys.bullmq('wait'), -1)
    .zrange(keys.bullmq('prioritized'), 0, 99)
    .exec()) as Array<[Error | null, unknown]> | null;
  const [tail, first] = (ids ?? []).map(([err, v]) => (err ? null : v));
  const sampled = [...(typeof tail === 'string' ? [tail] : []), ...((first as string[] | null) ?? [])];
  if (sampled.length === 0) return [];
  const p = connection.pipeline();
  for (const id of sampled) p.hget(keys.job(id), 'timestamp');
  return ((await p.exec()) ?? []).map(([err, v]) => (err ? 0 : Number(v ?? 0)));
}

/** The same sample through BullMQ (whole jobs), for a queue given without its keys. */
async function sampledJobTimestamps(queue: Queue): Promise<number[]> {
  const [plain, prioritized] = await Promise.all([
    queue.getJobs(['wait'], 0, 0, true),
    queue.getJobs(['prioritized'], 0, 99, true),
  ]);
  return [...plain, ...prioritized].map((job) => job?.timestamp ?? 0);
}

/** Where the gauges read the queue's keys directly (the service passes its connection and keys). */
export interface GaugeReads {
  connection: RedisConnection;
  keys: Keyspace;
}

export function registerQueueGauges(metrics: Metrics, queue: Queue, reads?: GaugeReads): void {
  const name = queue.name;
  new Gauge({
    name: 'promptq_queue_jobs',
    help: 'Jobs in the queue by state (queue-wide, read from Redis).',
    labelNames: ['queue', 'state'] as const,
    registers: [metrics.registry],
    async collect() {
      const c = await queue.getJobCounts(
        'waiting',
        'prioritized',
        'delayed',
        'active',
        'completed',
        'failed',
      );
      const value: Record<(typeof states)[number], number> = {
        waiting: (c.waiting ?? 0) + (c.prioritized ?? 0),
        delayed: c.delayed ?? 0,
        active: c.active ?? 0,
        completed: c.completed ?? 0,
        failed: c.failed ?? 0,
      };
      for (const s of states) this.set({ queue: name, state: s }, value[s]);
    },
  });
  new Gauge({
    name: 'promptq_queue_oldest_waiting_seconds',
    help: 'Age of the oldest waiting job (queue-wide).',
    labelNames: ['queue'] as const,
    registers: [metrics.registry],
    async collect() {
      this.set({ queue: name }, await oldestWaitingSeconds(queue, reads));
    },
  });
  new Gauge({
    name: 'promptq_workers',
    help: 'Live workers connected to the queue (queue-wide).',
    labelNames: ['queue'] as const,
    registers: [metrics.registry],
    async collect() {
      this.set({ queue: name }, await queue.getWorkersCount());
    },
  });
}
