/**
 * The collector's open batches (batches/collector.ts): polled each tick, cancelled when a job is at
 * risk, and, once ended, collected: each job finishes as a live one would (the record filled by
 * `recordAnswer` at the Batches price, the same events, the budget settled to the exact cost), or
 * returns to the lane or to the live route.
 */
import { tenantOf } from '../core/fairness.js';
import type { JobRecord } from '../core/record.js';
import type { BatchBudgets } from '../producer/backfill/batch-budget.js';
import { emitBatchJobEvents } from '../producer/backfill/batch-events.js';
import { type CollectedJob, type EndedBatch, finishedBatchJob } from '../producer/backfill/batch-outcome.js';
import { batchCustomId } from '../producer/backfill/batch-requests.js';
import { batchTurnaround } from '../producer/routing.js';
import type { Batches, BatchResult } from '../providers/provider.js';
import {
  closeBatch,
  enterLane,
  eventsEmitted,
  finishDelayedJobs,
  jobsOf,
  owedEvents,
} from '../store/batch-lane.js';
import { loadBatch, type StoredBatch, saveTurnaround, updateBatch } from '../store/batch-store.js';
import type { CollectorOptions } from './collector.js';
import { lineOf, type ReadyJob } from './collector-fill.js';

/** What a tick lends the polling and collecting of one batch. */
export interface TickContext extends Omit<CollectorOptions, 'now'> {
  api: Batches;
  budgets: BatchBudgets;
  now: number;
  promote(ids: readonly string[]): Promise<void>;
}

/** An ended batch with what promptq stored of it. */
export type Ended = EndedBatch & { stored: StoredBatch };

/** Poll one open batch: its state into Redis; cancelled when a job is at risk; the batch once ended. */
export async function pollBatch(ctx: TickContext, id: string): Promise<Ended | undefined> {
  const { connection, keys } = ctx;
  const stored = await loadBatch(connection, keys, id);
  if (stored === null) {
    await closeBatch(connection, keys, id);
    return undefined;
  }
  const b = await ctx.api.retrieve(id);
  const createdAt = Date.parse(stored.created_at);
  // The API no longer knows it: ended with no results (its jobs as expired).
  if (b === null) return { id, createdAt, endedAt: ctx.now, round: stored.round, gone: true, stored };
  await updateBatch(connection, keys, id, { status: b.status, counts: { ...b.counts } });
  if (b.status === 'ended') {
    const endedAt = Date.parse(b.endedAt ?? new Date(ctx.now).toISOString());
    // A cancelled batch's time says nothing of the turnaround.
    if (b.counts.canceled === 0) await saveTurnaround(connection, keys, endedAt - createdAt);
    return { id, createdAt, endedAt, round: stored.round, stored };
  }
  if (b.status === 'in_progress' && stored.due !== null && ctx.now >= stored.due) {
    ctx.log?.info('batch cancelled: a job is at risk of its deadline', { batch: id });
    await ctx.api.cancel(id);
    await updateBatch(connection, keys, id, { status: 'canceling' });
  }
  return undefined;
}

/** Collect an ended batch: finish, send back to the lane, or run live each of its jobs. */
export async function collectBatch(ctx: TickContext, batch: Ended): Promise<void> {
  const { connection, keys, config, prices } = ctx;
  const results = new Map<string, BatchResult>();
  if (!batch.gone) for await (const r of ctx.api.results(batch.id)) results.set(r.customId, r.result);
  const jobs = await jobsOf(
    connection,
    keys,
    batch.stored.jobs.map((id) => ({ id, at: batch.createdAt })),
  );
  const retention = {
    completedSeconds: config.jobs.keepCompletedSeconds,
    failedSeconds: config.jobs.keepFailedSeconds,
  };
  const turnaround = await batchTurnaround(connection, keys, config.routing);
  const lead = config.routing.liveLeadSeconds * 1000;
  const finished: CollectedJob[] = [];
  const again: ReadyJob[] = [];
  const live: ReadyJob[] = [];
  for (const job of jobs) {
    if (job.request === null) continue;
    const j = job as ReadyJob;
    const r = results.get(batchCustomId(j.id)) ?? { type: 'expired' };
    const final = r.type === 'succeeded' || (r.type === 'errored' && !r.decision.retry);
    if (final) {
      finished.push(finishedBatchJob(lineOf(j), r, batch, prices, retention, j.enqueuedAt));
      continue;
    }
    await ctx.budgets.settle(lineOf(j), null);
    const due =
      j.request.deadline === undefined ? Number.POSITIVE_INFINITY : Date.parse(j.request.deadline) - lead;
    // Sent again in a batch while one can still answer in time; live otherwise.
    if (j.delayed && due - ctx.now >= turnaround.ms) again.push(j);
    else if (j.delayed) live.push(j);
  }
  await finishAll(ctx, finished);
  await enterLane(
    connection,
    keys,
    again.map((j) => ({ id: j.id, at: ctx.now })),
  );
  await ctx.promote(live.map((j) => j.id));
  await updateBatch(connection, keys, batch.id, { collected: true });
  await closeBatch(connection, keys, batch.id);
  ctx.log?.info('batch collected', {
    batch: batch.id,
    finished: finished.length,
    again: again.length,
    live: live.length,
  });
}

/**
 * Finish the jobs still delayed, settle their holds to their exact cost and emit their events. The
 * finish marks each job's events owed in the same step; they are emitted from the record written,
 * then marked emitted, so a collector that died between finishing and emitting is followed by one
 * that emits them (a death between the emit and its mark emits again: at least once). A job the
 * live route took meanwhile is not finished again; what its batch answer cost is still settled (the
 * API charged it), and said in the log.
 */
async function finishAll(ctx: TickContext, finished: readonly CollectedJob[]): Promise<void> {
  const { connection, keys } = ctx;
  const written = await finishDelayedJobs(
    connection,
    keys,
    finished.map((j) => ({
      id: j.id,
      status: j.status,
      processedOn: j.processedOn,
      finishedOn: j.finishedOn,
      result: j.result,
      record: j.record,
      tenant: tenantOf(j.parsed.request),
    })),
  );
  const debts = await owedEvents(
    connection,
    keys,
    finished.map((j) => j.id),
  );
  for (const [i, job] of finished.entries()) {
    await ctx.budgets.settle(job.parsed, job.jobRecord.cost_usd);
    const { owed, record } = debts[i] ?? { owed: false, record: null };
    const stored = record === null ? null : (JSON.parse(record) as JobRecord);
    if (!owed) {
      // Not finished by this answer now: a collector before this one finished it and emitted its
      // events (its record says `batch`), the live route ran it, or the job is gone.
      const how =
        stored === null
          ? 'the job is gone'
          : stored.route === 'batch'
            ? 'finished by its batch earlier'
            : 'the job ran live';
      ctx.log?.info(`batch result ignored: ${how}`, { job: job.id, cost_usd: job.jobRecord.cost_usd });
      continue;
    }
    if (!written[i])
      ctx.log?.info('batch job finished by an earlier collector: its events go out now', { job: job.id });
    if (ctx.events) await emitBatchJobEvents(ctx.events, { ...job, jobRecord: stored ?? job.jobRecord });
    await eventsEmitted(connection, keys, job.id);
  }
}
