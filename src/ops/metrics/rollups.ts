/**
 * Per-minute rollups of finished jobs in Redis, for the built-in dashboard and `promptq report`
 * (users without Prometheus/Grafana). Written from the `finished` event (rollup-subscriber.ts, off
 * the job's path), so every worker process adds into the same queue-wide keys and nothing is counted
 * twice. Writes are group commits: one write at a time per process (one command,
 * lua/rollup-add-N.lua), and the jobs that finish within {@link rollupLingerMs} of the first one
 * pending (or while the write before is out) go together, their increments summed — a busy worker
 * writes its rollups about once a second, not once per job (docs/sizing.md). `record` still resolves
 * once the job's own increments are in Redis. The format
 * (fields, buckets) is store/rollup-format.ts, shared with the reader; the keys (all under the
 * queue's prefix, all expiring) are store/keys.ts.
 */

import type { JobRecord } from '../../core/record.js';
import type { RollupsConfig } from '../../core/settings.js';
import type { RedisConnection as Redis } from '../../store/connection.js';
import type { Keyspace } from '../../store/keys.js';
import {
  bucketIndex,
  latencyBucketsMs,
  type MinuteIncrement,
  usageBuckets,
} from '../../store/rollup-format.js';
import { type RollupEntry, RollupStore } from '../../store/rollup-store.js';

export {
  bucketIndex,
  latencyBucketsMs,
  type SlowCall,
  safe,
  slowestKept,
  usageBuckets,
} from '../../store/rollup-format.js';

export interface RollupOptions {
  connection: Redis;
  /** The queue's keys (hash-tagged on a cluster): the rollups are the queue's. */
  keys: Keyspace;
  /** How long the rollups are kept (`config.rollups`). */
  retention: RollupsConfig;
  /** Maps a tenant id to its bounded label (the same as the metrics' `tenant` label). */
  tenantLabel: (tenant: string | null) => string;
  /** Maps a model to its bounded label (the metrics' `model` label). */
  modelLabel: (model: string) => string;
}

/**
 * The rollups' label of the account that served a record's last call, `provider/account`
 * (`undefined`: no account served it). Bounded: both come from the accounts file.
 */
export function accountLabel(r: Pick<JobRecord, 'provider' | 'account'>): string | undefined {
  if (r.provider === null || r.provider === undefined || r.provider === 'none') return undefined;
  return `${r.provider}/${r.account ?? 'default'}`;
}

/** What a finished job adds to its minute. */
export function minuteIncrement(
  status: 'completed' | 'failed',
  r: JobRecord,
  tenant: string,
  costMicro: number,
): MinuteIncrement {
  const completed = status === 'completed' && r.latency_ms !== null;
  const counted = completed && r.max_tokens > 0;
  const inc: MinuteIncrement = {
    model: r.model,
    tenant,
    counters: {
      jobs: 1,
      [status]: 1,
      attempts: r.attempts,
      rateLimited: r.rate_limited,
      costMicro,
      ...(completed ? { latencyCount: 1, latencySum: r.latency_ms ?? 0 } : {}),
      ...(completed && r.ttfb_ms != null ? { ttfbCount: 1, ttfbSum: r.ttfb_ms } : {}),
      ...(completed && r.ttft_ms !== null ? { ttftCount: 1, ttftSum: r.ttft_ms } : {}),
      ...(counted ? { maxTokens: r.max_tokens, outputTokens: r.output_tokens } : {}),
      ...(r.queue_wait_ms !== null ? { queueWaitCount: 1, queueWaitSum: r.queue_wait_ms } : {}),
    },
    tenantCounters: {
      inputTokens: r.input_tokens,
      outputTokens: r.output_tokens,
      cacheCreationTokens: r.cache_creation_input_tokens,
      cacheReadTokens: r.cache_read_input_tokens,
      costMicro,
      batchSavedMicro: Math.round((r.savings?.batch_usd ?? 0) * 1e6),
      cacheSavedMicro: Math.round((r.savings?.cache_usd ?? 0) * 1e6),
    },
  };
  if (completed) inc.latencyBucket = bucketIndex(latencyBucketsMs, r.latency_ms ?? 0);
  if (counted) inc.usageBucket = bucketIndex(usageBuckets, r.output_tokens / r.max_tokens);
  if (status === 'failed') inc.error = r.error_type ?? 'unknown';
  const account = accountLabel(r);
  if (status === 'completed' && account !== undefined) {
    inc.account = account;
    inc.accountCounters = { completed: 1, costMicro };
  }
  return inc;
}

/** What one finished job adds to the rollups, its tenant and model by their bounded labels. */
export function rollupEntry(
  jobId: string,
  status: 'completed' | 'failed',
  r: JobRecord,
  labels: Pick<RollupOptions, 'tenantLabel' | 'modelLabel'>,
): RollupEntry {
  const finished = r.finished_at ? Date.parse(r.finished_at) : Date.now();
  const tenant = labels.tenantLabel(r.tenant_id);
  const labelled = { ...r, model: labels.modelLabel(r.model) };
  // Cost as integer micro-dollars: HINCRBY is exact, HINCRBYFLOAT drifts over many adds.
  const micro = Math.round((r.cost_usd ?? 0) * 1e6);
  return {
    finishedMs: finished,
    minute: minuteIncrement(status, labelled, tenant, micro),
    costMicro: micro,
    slow: {
      id: jobId,
      model: labelled.model,
      tenant,
      status,
      total_ms: r.total_ms ?? 0,
      latency_ms: r.latency_ms,
      ttft_ms: r.ttft_ms,
      queue_wait_ms: r.queue_wait_ms,
      output_tokens: r.output_tokens,
      max_tokens: r.max_tokens,
      attempts: r.attempts,
      finished_at: r.finished_at ?? new Date(finished).toISOString(),
    },
  };
}

/** What one API attempt adds to the rollups of the minute it got its answer in. */
export function attemptEntry(
  model: string,
  outcome: string,
  retried: boolean,
  atMs: number,
  labels: Pick<RollupOptions, 'modelLabel'>,
  account?: string,
): RollupEntry {
  const minute: MinuteIncrement = {
    model: labels.modelLabel(model),
    tenant: '',
    counters: { apiAttempts: 1, ...(retried ? { retried: 1 } : {}) },
    tenantCounters: {},
  };
  if (outcome !== 'success') minute.attemptError = outcome;
  if (account !== undefined) {
    minute.account = account;
    minute.accountCounters = { attempts: 1, ...(outcome === 'success' ? {} : { failedAttempts: 1 }) };
  }
  return { finishedMs: atMs, minute, costMicro: 0 };
}

/**
 * How long the first pending entry waits for others to join its write: the dashboard is at most
 * this late, and a busy worker sends one write per this interval instead of one per finished job.
 * A write costs about one command per field it adds to (a minute of 10 tenants is ~100 fields),
 * whatever the number of jobs in it: at 250 ms a worker finishing 20 jobs a second spent ~6 Redis
 * commands a job on rollups, at 1 s ~1.5 (docs/sizing.md).
 */
export const rollupLingerMs = 1000;
/** Entries that start the write at once, linger or not: the observer queue's room stays free. */
export const rollupMaxBatch = 500;

export class RollupWriter {
  readonly #options: RollupOptions;
  readonly #store: RollupStore;
  /** Finished jobs not yet sent. */
  #pending: RollupEntry[] = [];
  /** The next write (takes `#pending` when the one before it is done); undefined when none waits. */
  #next: Promise<void> | undefined;
  /** The last write started or waiting to start. */
  #last: Promise<void> | undefined;
  /** Ends the next write's linger early (a full batch). */
  #flush: (() => void) | undefined;

  constructor(options: RollupOptions) {
    this.#options = options;
    this.#store = new RollupStore(options.connection, options.keys);
  }

  /** Add one finished job to the rollups of the minute it finished in. */
  async record(jobId: string, status: 'completed' | 'failed', r: JobRecord): Promise<void> {
    return this.#add(rollupEntry(jobId, status, r, this.#options));
  }

  /**
   * Add one API attempt (`outcome`: `success` or the failed attempt's class, the `outcome` label of
   * `promptq_requests_total`) to the minute it got its answer in.
   */
  async attempt(
    model: string,
    outcome: string,
    retried: boolean,
    atMs = Date.now(),
    account?: string,
  ): Promise<void> {
    return this.#add(attemptEntry(model, outcome, retried, atMs, this.#options, account));
  }

  /** Send what is pending now, without waiting out the linger (a shutdown). */
  flush(): void {
    this.#flush?.();
  }

  #add(entry: RollupEntry): Promise<void> {
    this.#pending.push(entry);
    const next = this.#commit();
    if (this.#pending.length >= rollupMaxBatch) this.#flush?.();
    return next;
  }

  /**
   * Join the next group commit, starting it if none waits: it goes {@link rollupLingerMs} after its
   * first entry (or once {@link rollupMaxBatch} are pending), and not before the write before it is
   * done. The writer is an observer, off the jobs' path: the linger holds no worker slot.
   */
  #commit(): Promise<void> {
    if (this.#next) return this.#next;
    const before = this.#last;
    const linger = new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, rollupLingerMs);
      this.#flush = () => {
        clearTimeout(timer);
        resolve();
      };
    });
    const next = (async () => {
      await Promise.all([before?.catch(() => {}), linger]);
      this.#next = undefined;
      this.#flush = undefined;
      const batch = this.#pending;
      this.#pending = [];
      const { retention } = this.#options;
      await this.#store.addMany(batch, {
        minuteSeconds: retention.minuteRetentionSeconds,
        daySeconds: retention.dayRetentionSeconds,
      });
    })();
    this.#next = next;
    this.#last = next;
    return next;
  }
}
