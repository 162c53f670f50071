/**
 * The batch collector: jobs routed `batch` (producer/routing.ts) are not run live; they wait in the
 * batch lane (store/batch-lane.ts) as delayed jobs due at their deadline − the live lead, and the
 * collector gathers them into Message Batches (collector-fill.ts), polls the batches and finishes
 * each job from its result as a live one would end (collector-results.ts).
 *
 * - **One active collector** across processes: each tick first takes or renews the lease
 *   (`collector-lease`, `routing.collectorLeaseMs`); a process that died is taken over once its
 *   lease has expired. Everything a collector knows is in Redis (the lane, the open batches and
 *   their jobs), so the next one carries on.
 * - **Budgets:** a job's worst case at the Batches price is held before its batch is sent
 *   (backfill/batch-budget.ts); a job its tenant's budget refuses goes live now.
 * - **At risk:** a batch whose earliest job reaches its deadline − live lead while the batch has not
 *   ended is cancelled, whole (the API cancels batches, not requests). That job runs live: BullMQ
 *   promotes it from the delayed set at that time. The others' answers already made are kept;
 *   those the cancel stopped go back to the lane (or live, when no batch can meet them any more).
 *   A result whose job the live route took is ignored: the delayed set decides, once
 *   (lua/finish-delayed-jobs-N.lua).
 */
import { randomUUID } from 'node:crypto';
import { Queue } from 'bullmq';
import type { PromptqConfig } from '../core/config.js';
import type { Logger } from '../core/log.js';
import type { EventSink } from '../events/types.js';
import { orphansOf } from '../producer/backfill/batch-adopt.js';
import { BatchBudgets } from '../producer/backfill/batch-budget.js';
import { batchCustomId } from '../producer/backfill/batch-requests.js';
import type { Batches, Pricing, Provider } from '../providers/provider.js';
import { holdLease, jobsOf, leaveLane, openBatchIds, readLane, releaseLease } from '../store/batch-lane.js';
import {
  dropBatchIntent,
  loadBatchIntents,
  saveBatchIntent,
  saveSubmittedBatch,
} from '../store/batch-store.js';
import type { RedisConnection as Redis } from '../store/connection.js';
import { bullJobId, type Keyspace } from '../store/keys.js';
import { batchesToSend, lineOf, type ReadyJob } from './collector-fill.js';
import { collectBatch, pollBatch } from './collector-results.js';

export interface CollectorOptions {
  connection: Redis;
  keys: Keyspace;
  config: PromptqConfig;
  /** The account whose Message Batches API the jobs go through. */
  provider: Provider;
  prices: Pricing;
  /** Where finished jobs' events go (metrics, rollups, webhooks), as a live worker's. */
  events?: EventSink | undefined;
  log?: Logger | undefined;
  /** The clock (tests). @defaultValue `Date.now` */
  now?: () => number;
}

/** Jobs read from the lane per tick at most. */
const laneRead = 100_000;

/** When the first of these jobs is at risk: its deadline − the live lead (null: none has a deadline). */
function dueOf(requests: ReadonlyArray<ReadyJob['request']>, leadMs: number): number | null {
  const at = requests.flatMap((r) => (r.deadline ? [Date.parse(r.deadline) - leadMs] : []));
  return at.length > 0 ? Math.min(...at) : null;
}

export class Collector {
  readonly #o: CollectorOptions;
  readonly #api: Batches;
  readonly #token = randomUUID();
  readonly #budgets: BatchBudgets;
  readonly #queue: Queue;
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<unknown> = Promise.resolve();

  constructor(options: CollectorOptions) {
    const api = options.provider.batches;
    if (api === undefined) throw new Error(`provider "${options.provider.name}" has no Message Batches API`);
    this.#o = options;
    this.#api = api;
    this.#budgets = new BatchBudgets(options.connection, options.keys, options.prices);
    this.#queue = new Queue(options.keys.queue, {
      connection: options.connection,
      prefix: options.keys.prefix,
    });
    this.#queue.on('error', () => {});
  }

  #now(): number {
    return (this.#o.now ?? Date.now)();
  }

  /** Tick every `routing.collectorIntervalMs` until {@link stop}. */
  start(): void {
    const every = this.#o.config.routing.collectorIntervalMs;
    const loop = () => {
      this.#running = this.tick()
        .catch((err: unknown) => this.#o.log?.warn('batch collector tick failed', { err: String(err) }))
        .finally(() => {
          if (this.#timer !== undefined) this.#timer = setTimeout(loop, every);
        });
    };
    this.#timer = setTimeout(loop, 0);
  }

  /** Stop ticking; the lease is given up (another process takes over at once). */
  async stop(): Promise<void> {
    const t = this.#timer;
    this.#timer = undefined;
    clearTimeout(t);
    await this.#running;
    await releaseLease(this.#o.connection, this.#o.keys, this.#token).catch(() => {});
    await this.#queue.close();
  }

  /** One pass: take the lease, then poll and collect open batches, then send what the lane fills. */
  async tick(): Promise<boolean> {
    const { connection, keys, config } = this.#o;
    if (!(await holdLease(connection, keys, this.#token, config.routing.collectorLeaseMs))) return false;
    const ctx = {
      ...this.#o,
      api: this.#api,
      budgets: this.#budgets,
      now: this.#now(),
      promote: (ids: readonly string[]) => this.#promote(ids),
    };
    await this.#adoptOrphans();
    for (const id of await openBatchIds(connection, keys)) {
      const ended = await pollBatch(ctx, id);
      if (ended !== undefined) await collectBatch(ctx, ended);
    }
    await this.#fill();
    return true;
  }

  /**
   * A collector that died between the API accepting a batch and Redis recording it left an intent:
   * the batch the API made then becomes an open batch of the lane (its jobs leave the lane), so its
   * jobs are not sent twice. No such batch: the jobs are still in the lane, and go in the next one.
   */
  async #adoptOrphans(): Promise<void> {
    const { connection, keys, config } = this.#o;
    const intents = (await loadBatchIntents(connection, keys)).filter((i) => i.lane);
    const lead = config.routing.liveLeadSeconds * 1000;
    for (const { intent, batch: b } of await orphansOf(this.#api, connection, keys, intents)) {
      const jobs = await jobsOf(
        connection,
        keys,
        intent.ids.map((id) => ({ id, at: intent.at })),
      );
      if (b === undefined) {
        // The API made no batch: the jobs are still in the lane; their holds are let go until then.
        for (const j of jobs) if (j.request !== null) await this.#budgets.settle(lineOf(j as ReadyJob), null);
        await dropBatchIntent(connection, keys, intent.token);
        continue;
      }
      const due = dueOf(
        jobs.flatMap((j) => (j.request === null ? [] : [j.request])),
        lead,
      );
      const batch = { id: b.id, createdAt: Date.parse(b.createdAt), round: 0, status: b.status };
      await saveSubmittedBatch(connection, keys, batch, intent.ids, intent.token, { due });
      this.#o.log?.info('batch adopted', { batch: b.id, requests: intent.ids.length });
    }
  }

  /** Send the batches the lane fills now. */
  async #fill(): Promise<void> {
    const { connection, keys, config } = this.#o;
    const lane = await readLane(connection, keys, laneRead);
    const gone = lane.filter((j) => j.request === null || !j.delayed).map((j) => j.id);
    await leaveLane(connection, keys, gone);
    const delayed = lane.filter((j): j is ReadyJob => j.request !== null && j.delayed);
    // A job that names accounts this collector's is not among: live, where the router serves it.
    const mine = (j: ReadyJob) => {
      const a = j.request.account;
      return a === undefined || [a].flat().includes(this.#o.provider.accountName ?? 'default');
    };
    await this.#promote(delayed.filter((j) => !mine(j)).map((j) => j.id));
    const ready = delayed.filter(mine);
    if (ready.length === 0) return;
    const limits = {
      requests: Math.min(config.routing.batchMaxRequests, this.#api.limits.requests),
      bytes: this.#api.limits.bytes - 1024 * 1024,
      maxAgeMs: config.routing.batchMaxAgeSeconds * 1000,
    };
    const bytesOf = (j: ReadyJob) =>
      this.#api.requestBytes({ customId: batchCustomId(j.id), request: j.request });
    for (const batch of batchesToSend(ready, limits, bytesOf, this.#now())) await this.#send(batch);
  }

  /** Hold the budgets, then submit one batch and record it (its jobs leave the lane in the same step). */
  async #send(jobs: ReadyJob[]): Promise<void> {
    const held: ReadyJob[] = [];
    const refused: string[] = [];
    for (const j of jobs) {
      const admission = await this.#budgets.hold(lineOf(j));
      if (admission === 'held') held.push(j);
      // Only holds in flight stand in the way: it stays in the lane until they settle (or its time
      // comes and it runs live), as a live call waits for them.
      else if (admission === 'wait') continue;
      else {
        refused.push(j.id);
        // A hold left of an earlier try (a collector that died before sending) is let go.
        await this.#budgets.settle(lineOf(j), null);
      }
    }
    // Refused by the tenant's budget: live, where the worker waits or fails it as the tenant says.
    await this.#promote(refused);
    if (held.length > 0) await this.#submitIsolating(held);
  }

  /**
   * Submit these held jobs. A batch the API refuses whole at create (`400 invalid_request_error`) is
   * not sent again as it was: the request its error names (`requests.<i>…`) goes live, where it gets
   * its own verdict and record (the API's error, or an answer when only the Batches API refuses it);
   * an error naming none splits the batch in halves, each tried on its own (down to single jobs).
   * Each refusal takes a job out or halves a group, so at most 2n − 1 creates for n jobs. The holds
   * of the jobs still to send are kept across the retries. Other errors: the jobs not sent yet stay
   * in the lane for the next tick, their holds let go.
   */
  async #submitIsolating(jobs: ReadyJob[]): Promise<void> {
    const groups: ReadyJob[][] = [jobs];
    for (let group = groups.shift(); group !== undefined; group = groups.shift()) {
      let refusal: string | null;
      try {
        refusal = await this.#create(group);
      } catch (err) {
        for (const j of groups.flat()) await this.#budgets.settle(lineOf(j), null);
        throw err;
      }
      if (refusal === null) continue;
      const named = /^requests\.(\d+)\b/.exec(refusal);
      const at = named === null ? -1 : Number(named[1]);
      if (group.length === 1 || (at >= 0 && at < group.length)) {
        const bad = group.length === 1 ? group[0]! : group[at]!;
        this.#o.log?.warn('batch refused a request at create: it runs live', { job: bad.id });
        await this.#budgets.settle(lineOf(bad), null);
        await this.#promote([bad.id]);
        const rest = group.filter((j) => j !== bad);
        if (rest.length > 0) groups.unshift(rest);
      } else {
        const half = Math.ceil(group.length / 2);
        groups.unshift(group.slice(0, half), group.slice(half));
      }
    }
  }

  /**
   * One create of these held jobs, recorded (its jobs leave the lane in the same step). Refused at
   * create (400 invalid_request): the API's message, the holds kept; null once sent.
   */
  async #create(held: ReadyJob[]): Promise<string | null> {
    const { connection, keys, config, provider } = this.#o;
    const ids = held.map((j) => j.id);
    const intent = { token: randomUUID(), at: Date.now(), round: 0, ids, lane: true };
    await saveBatchIntent(connection, keys, intent);
    let batch: Awaited<ReturnType<Batches['create']>>;
    try {
      batch = await this.#api.create(
        held.map((j) => ({ customId: batchCustomId(j.id), request: j.request })),
      );
    } catch (err) {
      const d = provider.classify(err);
      if (d.statusCode !== null) await dropBatchIntent(connection, keys, intent.token);
      // Refused for what it holds: the caller isolates the request; the holds stay for the retries.
      if (d.statusCode === 400 && d.errorType === 'invalid_request_error') return d.message;
      // The jobs stay in the lane; their holds are let go until they are sent.
      for (const j of held) await this.#budgets.settle(lineOf(j), null);
      throw err;
    }
    const due = dueOf(
      held.map((j) => j.request),
      config.routing.liveLeadSeconds * 1000,
    );
    const createdAt = Date.parse(batch.createdAt);
    await saveSubmittedBatch(
      connection,
      keys,
      { id: batch.id, createdAt, round: 0, status: batch.status },
      ids,
      intent.token,
      { due },
    );
    this.#o.log?.info('batch submitted', { batch: batch.id, requests: ids.length });
    return null;
  }

  /** Run these delayed jobs live now (BullMQ's promote); one the live route has already is left alone. */
  async #promote(ids: readonly string[]): Promise<void> {
    const { connection, keys } = this.#o;
    await leaveLane(connection, keys, ids);
    for (const id of ids) {
      const job = await this.#queue.getJob(bullJobId(id));
      await job?.promote().catch(() => {});
    }
  }
}
