/**
 * Queue-wide gauges read from Redis at scrape time: the same value from every process, so
 * dashboards take `max` of them (docs/reference/metrics.md).
 */
import type { Queue } from 'bullmq';
import { Gauge } from 'prom-client';
import type { Metrics } from './metrics.js';

/** BullMQ states → the documented `state` label (prioritized jobs are waiting too). */
const states = ['waiting', 'delayed', 'active', 'completed', 'failed'] as const;

/** Age of the oldest job still waiting, sampling the wait list's tail and the first prioritized jobs. */
async function oldestWaitingSeconds(queue: Queue): Promise<number> {
  const [plain, prioritized] = await Promise.all([
    queue.getJobs(['wait'], 0, 0, true),
    queue.getJobs(['prioritized'], 0, 99, true),
  ]);
  let oldest = Number.POSITIVE_INFINITY;
  for (const job of [...plain, ...prioritized]) if (job?.timestamp) oldest = Math.min(oldest, job.timestamp);
  return Number.isFinite(oldest) ? Math.max(0, (Date.now() - oldest) / 1000) : 0;
}

export function registerQueueGauges(metrics: Metrics, queue: Queue): void {
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
      this.set({ queue: name }, await oldestWaitingSeconds(queue));
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
