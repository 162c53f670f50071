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
 *    they are read). `errored` (when worth retrying) and `expired` requests go to the live queue or
 *    to a follow-up batch, as `retry` says; `canceled` ones and errors that would fail again end as
 *    failed jobs.
 *
 * The results file and the summary then come from the jobs, exactly as for a live backfill
 * (results.ts).
 */

import { randomUUID } from 'node:crypto';
import type Anthropic from '@anthropic-ai/sdk';
import { defaults } from '../../core/defaults.js';
import type { JobRecord } from '../../core/record.js';
import {
  batchesOfJobs,
  dropBatchIntent,
  finishBatchJobs,
  knownBatchIds,
  loadBatches,
  loadBatchIntents,
  saveBatchIntent,
  saveSubmittedBatch,
  updateBatch,
} from '../../store/batch-store.js';
import { bullJobId } from '../../store/keys.js';
import type { PromptQueue } from '../queue.js';
import { type CollectedJob, type EndedBatch, finishedBatchJob, retryOf } from './batch-outcome.js';
import { batchCustomId, batchLimits, batchParams, requestBytes } from './batch-requests.js';
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

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export class BatchRun {
  readonly #o: BatchRunOptions;
  readonly #path: string;
  readonly #d: LineDefaults;
  readonly #keys: PromptQueue['keys'];
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
  };

  constructor(path: string, d: LineDefaults, o: BatchRunOptions) {
    this.#o = o;
    this.#path = path;
    this.#d = d;
    this.#keys = o.queue.keys;
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
    const intents = await loadBatchIntents(this.#o.redis, this.#keys);
    if (intents.length === 0) return;
    const known = await knownBatchIds(this.#o.redis, this.#keys);
    const skewMs = 60_000;
    const oldest = Math.min(...intents.map((i) => i.at)) - skewMs;
    const candidates: Anthropic.Messages.MessageBatch[] = [];
    for await (const b of this.#o.client.messages.batches.list({ limit: 100 })) {
      if (Date.parse(b.created_at) < oldest) break;
      if (!known.has(b.id)) candidates.push(b);
    }
    for (const intent of intents) {
      const i = candidates.findIndex((b) => {
        const c = b.request_counts;
        const total = c.processing + c.succeeded + c.errored + c.expired + c.canceled;
        const at = Date.parse(b.created_at);
        return total === intent.ids.length && at >= intent.at - skewMs && at <= intent.at + 10 * skewMs;
      });
      const b = candidates[i];
      if (b === undefined) {
        await dropBatchIntent(this.#o.redis, this.#keys, intent.token);
        continue;
      }
      candidates.splice(i, 1);
      await saveSubmittedBatch(
        this.#o.redis,
        this.#keys,
        { id: b.id, createdAt: Date.parse(b.created_at), round: intent.round, status: b.processing_status },
        intent.ids,
        intent.token,
      );
      this.#o.onBatch?.({ event: 'adopted', id: b.id, requests: intent.ids.length });
    }
  }

  /** Pass over the file: remember the batches lines are in, submit the lines in none. */
  async #submitMissing(): Promise<void> {
    const sender = this.#sender(0);
    let chunk: ValidLine[] = [];
    const flush = async () => {
      const ids = chunk.map((l) => l.id);
      const [batchOf, exists] = await Promise.all([
        batchesOfJobs(this.#o.redis, this.#keys, ids),
        this.#exist(ids),
      ]);
      const known = [...new Set(batchOf.filter((b): b is string => b !== null && !this.#batches.has(b)))];
      for (const b of await loadBatches(this.#o.redis, this.#keys, known)) {
        this.#batches.set(b.id, b.round);
        if (b.collected) this.#done.add(b.id);
        if (b.counts)
          this.#counts.set(b.id, { ...emptyProgress(), ...b.counts, batches: 1, submitted: b.requests });
      }
      for (const [i, line] of chunk.entries()) {
        const batch = batchOf[i];
        if (exists[i]) this.summary.already_there += 1;
        // A collected batch whose job is missing: killed between collecting and re-sending.
        else if (batch !== null && batch !== undefined && this.#batches.has(batch) && !this.#done.has(batch))
          this.summary.resumed += 1;
        else await sender.add(line);
      }
      chunk = [];
    };
    for await (const p of parsedLines(this.#path, this.#d)) {
      if (p.kind !== 'job') continue;
      chunk.push(p);
      if (chunk.length >= chunkLines) await flush();
    }
    if (chunk.length > 0) await flush();
    await sender.flush();
  }

  async #exist(ids: readonly string[]): Promise<boolean[]> {
    const pipe = this.#o.redis.pipeline();
    for (const id of ids) pipe.exists(this.#keys.job(bullJobId(id)));
    const rows = (await pipe.exec()) ?? [];
    return ids.map((_, i) => rows[i]?.[1] === 1);
  }

  /** Collects lines into batches within the limits and submits each when full. */
  #sender(round: number): Sender {
    const size = Math.min(this.#o.batchSize ?? defaults.backfill.batchSize, batchLimits.requests);
    const maxBytes = Math.min(this.#o.batchBytes ?? batchLimits.bytes - 1024 * 1024, batchLimits.bytes);
    let requests: Array<{ custom_id: string; params: Anthropic.Messages.MessageCreateParamsNonStreaming }> =
      [];
    let ids: string[] = [];
    // `{"requests":[]}`
    let bytes = 15;
    const flush = async () => {
      if (requests.length === 0) return;
      const intent = { token: randomUUID(), at: Date.now(), round, ids };
      await saveBatchIntent(this.#o.redis, this.#keys, intent);
      let batch: Anthropic.Messages.MessageBatch;
      try {
        batch = await this.#o.client.messages.batches.create({ requests });
      } catch (err) {
        // An answer from the API (a status) says no batch was made; a lost connection does not.
        if ((err as { status?: unknown }).status !== undefined)
          await dropBatchIntent(this.#o.redis, this.#keys, intent.token);
        throw err;
      }
      const createdAt = Date.parse(batch.created_at);
      await saveSubmittedBatch(
        this.#o.redis,
        this.#keys,
        { id: batch.id, createdAt, round, status: batch.processing_status },
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
      this.#o.onBatch?.({ event: 'submitted', id: batch.id, requests: ids.length });
      this.#report();
      requests = [];
      ids = [];
      bytes = 15;
    };
    return {
      add: async (line: ValidLine) => {
        const req = { custom_id: batchCustomId(line.id), params: batchParams(line.request) };
        const n = requestBytes(req);
        if (requests.length >= size || (requests.length > 0 && bytes + n > maxBytes)) await flush();
        requests.push(req);
        ids.push(line.id);
        bytes += n;
      },
      flush,
    };
  }

  #report(): void {
    const total = emptyProgress();
    for (const c of this.#counts.values()) {
      for (const k of Object.keys(total) as Array<keyof BatchProgress>) total[k] += c[k];
    }
    this.#o.onProgress?.(total);
  }

  async #pollUntilCollected(): Promise<void> {
    const { minMs, maxMs } = this.#o.poll ?? { minMs: 1000, maxMs: 60_000 };
    let pause = minMs;
    for (;;) {
      const open = [...this.#batches.keys()].filter((id) => !this.#done.has(id));
      if (open.length === 0) return;
      const ended: EndedBatch[] = [];
      for (const id of open) {
        const b = await this.#o.client.messages.batches.retrieve(id);
        const counts = b.request_counts;
        const submitted =
          counts.processing + counts.succeeded + counts.errored + counts.expired + counts.canceled;
        this.#counts.set(id, { batches: 1, submitted, ...counts });
        await updateBatch(this.#o.redis, this.#keys, id, {
          status: b.processing_status,
          counts: { ...counts },
        });
        if (b.processing_status === 'ended') {
          this.#o.onBatch?.({ event: 'ended', id });
          ended.push({
            id,
            createdAt: Date.parse(b.created_at),
            endedAt: Date.parse(b.ended_at ?? new Date().toISOString()),
            round: this.#batches.get(id) ?? 0,
          });
        }
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

  /** Results of ended batches → finished jobs and retries, in one pass over the file. */
  async #collect(ended: EndedBatch[]): Promise<void> {
    const byBatch = new Map(ended.map((b) => [b.id, b]));
    const results = new Map<string, Anthropic.Messages.MessageBatchResult>();
    for (const b of ended) {
      for await (const r of await this.#o.client.messages.batches.results(b.id)) {
        results.set(`${b.id}\n${r.custom_id}`, r.result);
      }
    }
    const maxRounds = this.#o.maxRounds ?? 3;
    const followUps = new Map<number, Sender>();
    const live: ValidLine[] = [];
    const retention = {
      completedSeconds: this.#o.keepCompletedSeconds,
      failedSeconds: this.#o.keepFailedSeconds,
    };

    const handle = async (chunk: ValidLine[]) => {
      const batchOf = await batchesOfJobs(
        this.#o.redis,
        this.#keys,
        chunk.map((l) => l.id),
      );
      const finished: CollectedJob[] = [];
      for (const [i, line] of chunk.entries()) {
        const batch = byBatch.get(batchOf[i] ?? '');
        if (!batch) continue;
        const result = results.get(`${batch.id}\n${batchCustomId(line.id)}`);
        // No result (the API dropped it): as good as expired.
        const r: Anthropic.Messages.MessageBatchResult = result ?? { type: 'expired' };
        const again = retryOf(r, batch.round, this.#o.retry, maxRounds);
        if (again === 'live') {
          live.push(line);
          continue;
        }
        if (again) {
          let sender = followUps.get(batch.round + 1);
          if (!sender) {
            sender = this.#sender(batch.round + 1);
            followUps.set(batch.round + 1, sender);
          }
          await sender.add(line);
          this.summary.retried_batch += 1;
          continue;
        }
        finished.push(finishedBatchJob(line, r, batch, this.#o.prices, retention));
      }
      const written = await finishBatchJobs(this.#o.redis, this.#keys, finished, retention);
      for (const [i, f] of finished.entries()) {
        if (!written[i]) continue;
        this.summary[f.kind] += 1;
        await this.#o.onFinished?.({
          jobId: f.id,
          status: f.status,
          record: JSON.parse(f.record) as JobRecord,
        });
      }
    };

    let chunk: ValidLine[] = [];
    for await (const p of parsedLines(this.#path, this.#d)) {
      if (p.kind !== 'job') continue;
      chunk.push(p);
      if (chunk.length >= chunkLines) {
        await handle(chunk);
        chunk = [];
      }
    }
    if (chunk.length > 0) await handle(chunk);
    for (const sender of followUps.values()) await sender.flush();
    for (let i = 0; i < live.length; i += chunkLines) {
      const part = live.slice(i, i + chunkLines);
      await this.#o.queue.addValidated(part);
      this.summary.retried_live += part.length;
    }
    for (const b of ended) {
      await updateBatch(this.#o.redis, this.#keys, b.id, { collected: true });
      this.#done.add(b.id);
      this.#o.onBatch?.({ event: 'collected', id: b.id });
    }
  }
}
