/**
 * `promptq backfill FILE --via batches`: the valid lines go to the Message Batches API instead of
 * the queue, at half the price and outside the live rate limits.
 *
 * 1. **Submit.** Lines with neither a job nor a batch yet are split into batches within the API's
 *    limits (requests and bytes) and submitted; each accepted batch and its job ids go to Redis
 *    (store/batch-store.ts) before the next one is sent. Lines already in a batch (a killed run) or
 *    already finished are left alone, so a resumed run polls what it submitted and sends the rest.
 * 2. **Poll** every unfinished batch of the file, with backoff, reporting the request counts.
 * 3. **Collect** each batch that ended: its results become jobs in their final state, with their
 *    records at the Batches price (store/lua/finish-batch-jobs-N.lua: written once however often
 *    they are read), and the same events as a job a live worker finished (batch-events.ts).
 *    `errored` (when worth retrying) and `expired` requests go to the live queue or to a follow-up
 *    batch, as `retry` says; `canceled` ones and errors that would fail again end as failed jobs.
 *
 * The provider's Message Batches API (providers/provider.ts `Batches`) does the talking. The
 * results file and the summary then come from the jobs, exactly as for a live backfill (results.ts).
 */

import { randomUUID } from 'node:crypto';
import { ConfigError } from '../../core/config.js';
import { defaults } from '../../core/defaults.js';
import type { Batches, BatchInfo, BatchRequest, BatchResult } from '../../providers/provider.js';
import {
  batchesOfJobs,
  dropBatchIntent,
  finishBatchJobs,
  loadBatches,
  loadBatchIntents,
  saveBatchIntent,
  saveSubmittedBatch,
  saveTurnaround,
  updateBatch,
} from '../../store/batch-store.js';
import { bullJobId, callerJobId } from '../../store/keys.js';
import type { PromptQueue } from '../queue.js';
import { orphansOf, requestsIn } from './batch-adopt.js';
import { BatchBudgets } from './batch-budget.js';
import { emitBatchJobEvents } from './batch-events.js';
import { type CollectedJob, type EndedBatch, finishedBatchJob, retryOf } from './batch-outcome.js';
import { batchCustomId } from './batch-requests.js';
import {
  type BatchProgress,
  type BatchRunOptions,
  type BatchRunSummary,
  emptyProgress,
} from './batch-types.js';
import type { LineDefaults, ValidLine } from './parse.js';
import { parsedLines } from './scan.js';

const chunkLines = 1000;

/** Fills batches and submits each one when full. */
interface Sender {
  add(line: ValidLine): Promise<void>;
  flush(): Promise<void>;
}

/** What one collection pass does with the lines of the ended batches. */
interface Collection {
  ended: Map<string, EndedBatch>;
  /** Result by batch id and custom id. */
  results: Map<string, BatchResult>;
  /** Follow-up batches by round. */
  followUps: Map<number, Sender>;
  /** Lines to send again through the live queue. */
  live: ValidLine[];
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export class BatchRun {
  readonly #options: BatchRunOptions;
  readonly #path: string;
  readonly #lineDefaults: LineDefaults;
  readonly #keys: PromptQueue['keys'];
  readonly #api: Batches;
  /** Tenants' budgets, held per line and settled per result (batch-budget.ts). */
  readonly #budgets: BatchBudgets;
  /** Every batch of this file: id → round. */
  readonly #batches = new Map<string, number>();
  readonly #done = new Set<string>();
  readonly #counts = new Map<string, BatchProgress>();
  readonly summary: BatchRunSummary = {
    batches: 0,
    submitted: 0,
    resumed: 0,
    already_there: 0,
    succeeded: 0,
    errored: 0,
    expired: 0,
    canceled: 0,
    retried_live: 0,
    retried_batch: 0,
    over_budget_live: 0,
  };

  constructor(path: string, lineDefaults: LineDefaults, options: BatchRunOptions) {
    const api = options.provider.batches;
    if (api === undefined) {
      throw new ConfigError('--via', `provider "${options.provider.name}" has no Message Batches API`);
    }
    this.#options = options;
    this.#path = path;
    this.#lineDefaults = lineDefaults;
    this.#keys = options.queue.keys;
    this.#api = api;
    this.#budgets = new BatchBudgets(options.redis, this.#keys, options.prices);
  }

  /** Submit what is missing, poll until every batch of the file is collected. */
  async run(): Promise<BatchRunSummary> {
    await this.#adoptOrphans();
    await this.#submitMissing();
    await this.#pollUntilCollected();
    this.summary.batches = this.#batches.size;
    return this.summary;
  }

  /**
   * A run killed between the API accepting a batch and Redis recording it left an intent: the
   * batch the API created then (not known to promptq, created within minutes of the intent, with as
   * many requests) is taken as that one. No such batch: the API never accepted it, and its lines are
   * submitted as any others.
   */
  async #adoptOrphans(): Promise<void> {
    const { redis } = this.#options;
    // The collector's intents are the collector's to adopt (batches/collector.ts).
    const intents = (await loadBatchIntents(redis, this.#keys)).filter((i) => !i.lane);
    for (const { intent, batch: b } of await orphansOf(this.#api, redis, this.#keys, intents)) {
      if (b === undefined) {
        await dropBatchIntent(redis, this.#keys, intent.token);
        continue;
      }
      await saveSubmittedBatch(
        redis,
        this.#keys,
        { id: b.id, createdAt: Date.parse(b.createdAt), round: intent.round, status: b.status },
        intent.ids,
        intent.token,
      );
      this.#options.onBatch?.({ event: 'adopted', id: b.id, requests: intent.ids.length });
    }
  }

  /** Pass over the file: remember the batches lines are in, submit the lines in none. */
  async #submitMissing(): Promise<void> {
    const sender = this.#sender(0);
    let chunk: ValidLine[] = [];
    for await (const p of parsedLines(this.#path, this.#lineDefaults)) {
      if (p.kind !== 'job') continue;
      chunk.push(p);
      if (chunk.length >= chunkLines) {
        await this.#submitChunk(chunk, sender);
        chunk = [];
      }
    }
    if (chunk.length > 0) await this.#submitChunk(chunk, sender);
    await sender.flush();
  }

  /** One chunk of lines: those in a known batch or already in the queue are counted, the rest sent. */
  async #submitChunk(chunk: ValidLine[], sender: Sender): Promise<void> {
    const { redis } = this.#options;
    const ids = chunk.map((l) => l.id);
    const [batchOf, exists] = await Promise.all([batchesOfJobs(redis, this.#keys, ids), this.#exist(ids)]);
    const known = [...new Set(batchOf.filter((b): b is string => b !== null && !this.#batches.has(b)))];
    for (const b of await loadBatches(redis, this.#keys, known)) {
      this.#batches.set(b.id, b.round);
      if (b.collected) this.#done.add(b.id);
      if (b.counts)
        this.#counts.set(b.id, { ...emptyProgress(), ...b.counts, batches: 1, submitted: b.requests });
    }
    const overBudget: ValidLine[] = [];
    for (const [i, line] of chunk.entries()) {
      const batch = batchOf[i];
      if (exists[i]) this.summary.already_there += 1;
      // A collected batch whose job is missing: killed between collecting and re-sending.
      else if (batch !== null && batch !== undefined && this.#batches.has(batch) && !this.#done.has(batch))
        this.summary.resumed += 1;
      else if ((await this.#budgets.hold(line)) === 'held') await sender.add(line);
      // Refused by its tenant's budget: live, where the worker waits or fails it as the tenant says.
      else overBudget.push(line);
    }
    if (overBudget.length === 0) return;
    await this.#options.queue.addValidated(overBudget);
    this.summary.over_budget_live += overBudget.length;
  }

  async #exist(ids: readonly string[]): Promise<boolean[]> {
    const pipe = this.#options.redis.pipeline();
    for (const id of ids) pipe.exists(this.#keys.job(bullJobId(id)));
    const rows = (await pipe.exec()) ?? [];
    return ids.map((_, i) => rows[i]?.[1] === 1);
  }

  /** Collects lines into batches within the limits and submits each when full. */
  #sender(round: number): Sender {
    const limits = this.#api.limits;
    const size = Math.min(this.#options.batchSize ?? defaults.backfill.batchSize, limits.requests);
    const maxBytes = Math.min(this.#options.batchBytes ?? limits.bytes - 1024 * 1024, limits.bytes);
    let requests: BatchRequest[] = [];
    let lines: ValidLine[] = [];
    // `{"requests":[]}`
    let bytes = 15;
    const flush = async () => {
      if (requests.length === 0) return;
      await this.#submit(round, requests, lines);
      requests = [];
      lines = [];
      bytes = 15;
    };
    return {
      add: async (line: ValidLine) => {
        const request = { customId: batchCustomId(line.id), request: line.request };
        const n = this.#api.requestBytes(request);
        if (requests.length >= size || (requests.length > 0 && bytes + n > maxBytes)) await flush();
        requests.push(request);
        lines.push(line);
        bytes += n;
      },
      flush,
    };
  }

  /** Submit one batch: its intent first (a kill meanwhile leaves a trace), then the batch and its job ids. */
  async #submit(round: number, requests: BatchRequest[], lines: ValidLine[]): Promise<void> {
    const { redis } = this.#options;
    const ids = lines.map((l) => l.id);
    const intent = { token: randomUUID(), at: Date.now(), round, ids };
    await saveBatchIntent(redis, this.#keys, intent);
    let batch: BatchInfo;
    try {
      batch = await this.#api.create(requests);
    } catch (err) {
      // An answer from the API (a status) says no batch was made; a lost connection does not.
      if (this.#options.provider.classify(err).statusCode !== null)
        await dropBatchIntent(redis, this.#keys, intent.token);
      throw err;
    }
    const createdAt = Date.parse(batch.createdAt);
    await saveSubmittedBatch(
      redis,
      this.#keys,
      { id: batch.id, createdAt, round, status: batch.status },
      ids,
      intent.token,
    );
    this.#batches.set(batch.id, round);
    this.#counts.set(batch.id, {
      ...emptyProgress(),
      batches: 1,
      submitted: ids.length,
      processing: ids.length,
    });
    this.summary.submitted += ids.length;
    this.#options.onBatch?.({ event: 'submitted', id: batch.id, requests: ids.length });
    this.#report();
    // Queued: as a live job is once it is in the queue (a follow-up batch's lines were queued already).
    const events = this.#options.events;
    if (events !== undefined && round === 0) {
      for (const line of lines) {
        await events.emit('queued', {
          jobId: callerJobId(line.id),
          model: line.request.model,
          request: line.request,
        });
      }
    }
  }

  #report(): void {
    const total = emptyProgress();
    for (const c of this.#counts.values()) {
      for (const k of Object.keys(total) as Array<keyof BatchProgress>) total[k] += c[k];
    }
    this.#options.onProgress?.(total);
  }

  async #pollUntilCollected(): Promise<void> {
    const { minMs, maxMs } = this.#options.poll ?? { minMs: 1000, maxMs: 60_000 };
    let pause = minMs;
    for (;;) {
      const open = [...this.#batches.keys()].filter((id) => !this.#done.has(id));
      if (open.length === 0) return;
      const ended: EndedBatch[] = [];
      for (const id of open) {
        const b = await this.#poll(id);
        if (b !== undefined) ended.push(b);
      }
      this.#report();
      if (ended.length > 0) {
        await this.#collect(ended);
        pause = minMs;
        continue;
      }
      await sleep(pause);
      pause = Math.min(maxMs, Math.round(pause * 1.5));
    }
  }

  /** One batch's state from the API into Redis and the progress; the batch when it has ended. */
  async #poll(id: string): Promise<EndedBatch | undefined> {
    const b = await this.#api.retrieve(id);
    if (b === null) return this.#gone(id);
    const counts = b.counts;
    this.#counts.set(id, { batches: 1, submitted: requestsIn(b), ...counts });
    await updateBatch(this.#options.redis, this.#keys, id, { status: b.status, counts: { ...counts } });
    if (b.status !== 'ended') return undefined;
    this.#options.onBatch?.({ event: 'ended', id });
    const ended = {
      id,
      createdAt: Date.parse(b.createdAt),
      endedAt: Date.parse(b.endedAt ?? new Date().toISOString()),
      round: this.#batches.get(id) ?? 0,
    };
    // This account's turnaround, which deadlines are judged by (producer/routing.ts).
    await saveTurnaround(this.#options.redis, this.#keys, ended.endedAt - ended.createdAt);
    return ended;
  }

  /**
   * A batch the API no longer knows (expired, deleted, or made with another API key): said once,
   * then ended with no results, so its requests are handled as expired ones (`retry`).
   */
  async #gone(id: string): Promise<EndedBatch> {
    const [stored] = await loadBatches(this.#options.redis, this.#keys, [id]);
    const requests = stored?.requests ?? this.#counts.get(id)?.submitted ?? 0;
    this.#options.onBatch?.({ event: 'gone', id, requests });
    this.#counts.set(id, { ...emptyProgress(), batches: 1, submitted: requests, expired: requests });
    const createdAt = stored ? Date.parse(stored.created_at) : Date.now();
    return { id, createdAt, endedAt: Date.now(), round: this.#batches.get(id) ?? 0, gone: true };
  }

  /** Results of ended batches → finished jobs and retries, in one pass over the file. */
  async #collect(ended: EndedBatch[]): Promise<void> {
    const collection: Collection = {
      ended: new Map(ended.map((b) => [b.id, b])),
      results: new Map(),
      followUps: new Map(),
      live: [],
    };
    for (const b of ended) {
      if (b.gone) continue;
      for await (const r of this.#api.results(b.id))
        collection.results.set(`${b.id}\n${r.customId}`, r.result);
    }
    let chunk: ValidLine[] = [];
    for await (const p of parsedLines(this.#path, this.#lineDefaults)) {
      if (p.kind !== 'job') continue;
      chunk.push(p);
      if (chunk.length >= chunkLines) {
        await this.#collectChunk(chunk, collection);
        chunk = [];
      }
    }
    if (chunk.length > 0) await this.#collectChunk(chunk, collection);
    for (const sender of collection.followUps.values()) await sender.flush();
    for (let i = 0; i < collection.live.length; i += chunkLines) {
      const part = collection.live.slice(i, i + chunkLines);
      await this.#options.queue.addValidated(part, { resubmit: true });
      this.summary.retried_live += part.length;
    }
    for (const b of ended) {
      await updateBatch(this.#options.redis, this.#keys, b.id, { collected: true });
      this.#done.add(b.id);
      this.#options.onBatch?.({ event: 'collected', id: b.id });
    }
  }

  /** One chunk of lines: those in an ended batch are retried or written as finished jobs. */
  async #collectChunk(chunk: ValidLine[], collection: Collection): Promise<void> {
    const { redis, keepCompletedSeconds, keepFailedSeconds } = this.#options;
    const retention = { completedSeconds: keepCompletedSeconds, failedSeconds: keepFailedSeconds };
    const batchOf = await batchesOfJobs(
      redis,
      this.#keys,
      chunk.map((l) => l.id),
    );
    const finished: CollectedJob[] = [];
    for (const [i, line] of chunk.entries()) {
      const batch = collection.ended.get(batchOf[i] ?? '');
      if (!batch) continue;
      // No result (the API dropped it): as good as expired.
      const r = collection.results.get(`${batch.id}\n${batchCustomId(line.id)}`) ?? { type: 'expired' };
      const again = retryOf(r, batch.round, this.#options.retry, this.#options.maxRounds ?? 3);
      if (again === 'live') {
        // Held anew by the worker that runs it.
        await this.#budgets.settle(line, null);
        collection.live.push(line);
      } else if (again === 'batch') await this.#followUp(collection, batch.round + 1, line);
      else finished.push(finishedBatchJob(line, r, batch, this.#options.prices, retention));
    }
    const written = await finishBatchJobs(redis, this.#keys, finished, retention);
    for (const [i, job] of finished.entries()) {
      // Settled once whoever wrote the job: a run killed between the write and the settle left the hold.
      await this.#budgets.settle(job.parsed, job.jobRecord.cost_usd);
      if (!written[i]) continue;
      this.summary[job.kind] += 1;
      if (this.#options.events) await emitBatchJobEvents(this.#options.events, job);
    }
  }

  /** Send a line again in the follow-up batch of `round`. */
  async #followUp(collection: Collection, round: number, line: ValidLine): Promise<void> {
    let sender = collection.followUps.get(round);
    if (!sender) {
      sender = this.#sender(round);
      collection.followUps.set(round, sender);
    }
    await sender.add(line);
    this.summary.retried_batch += 1;
  }
}
