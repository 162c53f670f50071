/**
 * The one way into the queue (single, batch and bulk: producer/queue.ts): claim the ids and count
 * the claimed jobs in their tenants' fairness ranks in one atomic step (store/tenant-pending.ts),
 * then add the claimed jobs in one `addBulk`. A job that exists is left as it is (`existed`). An id
 * whose claim another submitter holds and that does not exist yet is added too (`added`, at a rank
 * reserved apart): BullMQ ignores an existing jobId, and this covers a submitter that died between
 * its claim and its add.
 */
import { randomUUID } from 'node:crypto';
import type { Queue } from 'bullmq';
import type { PromptqConfig } from '../core/config.js';
import { combinedPriority, tenantOf } from '../core/fairness.js';
import type { JobRequest } from '../core/job.js';
import { inSpan, SpanKind, traceMetadata } from '../core/trace.js';
import type { EventSink } from '../events/types.js';
import { enterLane } from '../store/batch-lane.js';
import type { RedisConnection } from '../store/connection.js';
import { bullJobId, callerJobId, type Keyspace } from '../store/keys.js';
import { claimJobs, reserveRanks } from '../store/tenant-pending.js';
import { jobState } from './job-view.js';
import { batchDues } from './routing.js';

/** What {@link enqueueJobs} did with a job: claimed and added it, added it unclaimed, or found it. */
export type EnqueueOutcome = 'created' | 'added' | 'existed';

/** A validated job on its way into the queue. */
export interface Submission {
  request: JobRequest;
  /** The caller's idempotency key; a random id when none. */
  id?: string | undefined;
  priority?: number | undefined;
}

/** The queue a job goes into, and who hears of it (`queued`). */
export interface EnqueueTarget {
  queue: Queue;
  connection: RedisConnection;
  keys: Keyspace;
  config: PromptqConfig;
  events: EventSink | undefined;
}

/** The BullMQ options of a job of this queue. */
function jobOptions(config: PromptqConfig, id: string, priority: number, timestamp: number) {
  const { jobs } = config;
  return {
    // Never the caller's id itself: it could name one of BullMQ's keys (store/keys.ts).
    jobId: bullJobId(id),
    timestamp,
    priority,
    // API errors are retried by the worker itself; these cover infrastructure faults only.
    attempts: jobs.infraAttempts,
    backoff: { type: 'exponential', delay: jobs.infraBackoffMs },
    removeOnComplete: { age: jobs.keepCompletedSeconds },
    removeOnFail: { age: jobs.keepFailedSeconds },
  };
}

export async function enqueueJobs(
  t: EnqueueTarget,
  jobs: readonly Submission[],
  route = false,
): Promise<Array<{ id: string; outcome: EnqueueOutcome }>> {
  if (jobs.length === 0) return [];
  // The jobs start their traces here (a child of the caller's span, e.g. the HTTP request that
  // carried a `traceparent`); each job carries this context to whichever worker runs it.
  return inSpan(
    `send ${t.keys.queue}`,
    {
      kind: SpanKind.PRODUCER,
      attributes: {
        'messaging.system': 'bullmq',
        'messaging.operation.type': 'send',
        'messaging.destination.name': t.keys.queue,
        'messaging.batch.message_count': jobs.length,
      },
    },
    () => enqueueTraced(t, jobs, route),
  );
}

async function enqueueTraced(
  t: EnqueueTarget,
  jobs: readonly Submission[],
  route: boolean,
): Promise<Array<{ id: string; outcome: EnqueueOutcome }>> {
  const timestamp = Date.now();
  // Routed `batch` (producer/routing.ts): delayed until the job must run live, and in the batch lane.
  const dues = route
    ? await batchDues(t.connection, t.keys, t.config.routing, jobs, timestamp)
    : jobs.map(() => undefined);
  const all = jobs.map((j, i) => ({
    ...j,
    id: j.id ?? randomUUID(),
    tenant: tenantOf(j.request),
    batchDue: dues[i],
    // An id generated here cannot exist or be claimed by another submitter: no claim needed.
    fresh: j.id === undefined,
  }));
  const claims = await claimJobs(t.connection, t.keys, all, t.config.jobs.claimTtlMs);
  const add: Array<{ job: (typeof all)[number]; rank: number }> = [];
  const busy: typeof all = [];
  all.forEach((job, i) => {
    const claim = claims[i];
    if (claim?.kind === 'claimed') add.push({ job, rank: claim.rank });
    else if (claim?.kind === 'busy') busy.push(job);
  });
  const unseen = await notExisting(t.queue, busy);
  if (unseen.length > 0) {
    const counts = new Map<string, number>();
    for (const j of unseen) counts.set(j.tenant, (counts.get(j.tenant) ?? 0) + 1);
    const next = await reserveRanks(t.connection, t.keys.tenantPending, counts);
    for (const job of unseen) {
      const rank = next.get(job.tenant) ?? 0;
      next.set(job.tenant, rank + 1);
      add.push({ job, rank });
    }
  }
  if (add.length > 0) await addClaimed(t, add, timestamp);
  const added = new Set(unseen.map((j) => j.id));
  return all.map((j, i) => ({
    id: j.id,
    outcome: claims[i]?.kind === 'claimed' ? 'created' : added.has(j.id) ? 'added' : 'existed',
  }));
}

/** One `addBulk` of the jobs to add, each at its rank; then each announced (`queued`). */
async function addClaimed(
  t: EnqueueTarget,
  add: ReadonlyArray<{ job: Submission & { id: string; batchDue?: number | undefined }; rank: number }>,
  timestamp: number,
): Promise<void> {
  const metadata = traceMetadata();
  await t.queue.addBulk(
    add.map(({ job, rank }) => ({
      name: job.request.model,
      data: job.request,
      // BullMQ priorities: user priority first, then round robin between tenants (fairness.ts).
      opts: {
        ...jobOptions(
          t.config,
          job.id,
          combinedPriority(job.priority ?? t.config.jobs.defaultPriority, rank),
          timestamp,
        ),
        ...(metadata === undefined ? {} : { telemetry: { metadata } }),
        ...(job.batchDue === undefined ? {} : { delay: Math.max(1, job.batchDue - timestamp) }),
      },
    })),
  );
  const lane = add.filter(({ job }) => job.batchDue !== undefined);
  // The batch collector gathers them (batches/collector.ts).
  await enterLane(
    t.connection,
    t.keys,
    lane.map(({ job }) => ({ id: job.id, at: timestamp })),
  );
  for (const { job } of add) {
    await t.events?.emit('queued', {
      jobId: callerJobId(job.id),
      model: job.request.model,
      request: job.request,
    });
  }
}

/** The jobs among `jobs` that do not exist (yet). */
async function notExisting<J extends { id: string }>(queue: Queue, jobs: readonly J[]): Promise<J[]> {
  const states = await Promise.all(jobs.map((j) => jobState(queue, bullJobId(j.id))));
  return jobs.filter((_, i) => states[i] === null);
}
