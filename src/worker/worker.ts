/**
 * The BullMQ worker: takes a job, validates it, runs API attempts through the limiter, keeps the
 * record, and decides (via the classify table) whether to retry, fail, or finish.
 *
 * Retries are promptq's, not BullMQ's: the attempt count lives in the record, so jobs added by any
 * BullMQ client (with or without `attempts`) get the same bounded retry policy, and a retry is a
 * `moveToDelayed` with the delay the API asked for.
 */
import type Anthropic from '@anthropic-ai/sdk';
import { DelayedError, type Job, Queue, UnrecoverableError, Worker } from 'bullmq';
import type { Redis } from 'ioredis';
import {
  type BackoffPolicy,
  backoffMs,
  classifyError,
  type Decision,
  defaultBackoff,
} from '../anthropic/classify.js';
import type { PriceTable } from '../anthropic/pricing.js';
import { estimateInputTokens } from '../anthropic/tokens.js';
import { rankSlots } from '../core/fairness.js';
import {
  type JobLimits,
  type JobRecord,
  type JobRequest,
  newRecord,
  ValidationError,
  validateJob,
} from '../core/job.js';
import type { Logger } from '../core/log.js';
import type { Permit, RateLimiter } from '../limiter/limiter.js';
import type { Metrics } from '../ops/metrics/metrics.js';
import { jobKey, LockLostError, loadRecord, saveFinalRecord, saveRecord } from '../store/record-store.js';
import { pendingKey, tenantJobDone } from '../store/tenant-pending.js';
import { type AttemptResult, runAttempt } from './attempt.js';

export interface PromptWorkerOptions {
  /** A Redis connection the worker may use (BullMQ duplicates it for blocking calls). */
  connection: Redis;
  queue: string;
  /** BullMQ key prefix. @defaultValue `bull` */
  prefix?: string;
  client: Anthropic;
  limiter: RateLimiter;
  metrics: Metrics;
  prices: PriceTable;
  log: Logger;
  /** Jobs processed at once by this worker (the starting point when `adaptiveConcurrency` is set). */
  concurrency: number;
  /**
   * Let the limiter choose concurrency: enough in-flight calls to use the discovered request rate at
   * the observed latency (Little's law, with headroom), between `min` and `max`.
   */
  adaptiveConcurrency?: { min: number; max: number };
  /** API attempts per job (429s not counted). */
  maxAttempts: number;
  /** 429s a job may meet before it fails (they wait for capacity and do not spend attempts). */
  maxRateLimited: number;
  /** Backoff between attempts when the API gives no retry-after. @defaultValue {@link defaultBackoff} */
  backoff?: BackoffPolicy;
  requestTimeoutMs: number;
  /** Graceful shutdown waits this long for in-flight jobs, then returns them to the queue. */
  shutdownTimeoutMs: number;
  logPrompts: boolean;
  jobLimits: JobLimits;
  keepCompletedSeconds: number;
  keepFailedSeconds: number;
  /** Called when a spend-limit 429 paused the queue. */
  onSpendLimit?: (errorCode: string) => void;
  /** A job's lock lifetime (renewed every half of it while this process lives). @defaultValue `60000` */
  lockDurationMs?: number;
  /** How often to look for jobs whose lock expired. @defaultValue `30000` */
  stalledIntervalMs?: number;
  /** Called once per finished job (completed or failed for good), after its record is saved. */
  onFinished?: (event: FinishedEvent) => void | Promise<void>;
}

/** A job that has finished for good. */
export interface FinishedEvent {
  jobId: string;
  status: 'completed' | 'failed';
  record: JobRecord;
}

/** What a completed job returns (BullMQ `returnvalue`). */
export interface JobResult {
  message: Anthropic.Message;
  record: JobRecord;
}

const iso = (ms: number) => new Date(ms).toISOString();

/** Aborts an attempt because the worker is shutting down: the job goes back, no attempt spent. */
const shutdownReason = 'promptq: worker shutting down';

export class PromptWorker {
  readonly worker: Worker;
  readonly #o: PromptWorkerOptions;
  readonly #prefix: string;
  #closing: Promise<void> | undefined;
  /** EWMA of successful attempt latency in ms (for adaptive concurrency). */
  #latencyMs = 0;
  #tuner: NodeJS.Timeout | undefined;
  #queue: Queue | undefined;

  constructor(opts: PromptWorkerOptions) {
    this.#o = opts;
    this.#prefix = opts.prefix ?? 'bull';
    this.worker = new Worker(opts.queue, (job, token, signal) => this.#process(job, token, signal), {
      connection: opts.connection,
      prefix: this.#prefix,
      concurrency: opts.concurrency,
      autorun: false,
      // LLM calls can take minutes: the lock is renewed every lockDuration/2 while the event loop
      // runs, so only a dead or frozen worker loses it, however long the call.
      lockDuration: opts.lockDurationMs ?? 60_000,
      stalledInterval: opts.stalledIntervalMs ?? 30_000,
      maxStalledCount: 2,
      removeOnComplete: { age: opts.keepCompletedSeconds },
      removeOnFail: { age: opts.keepFailedSeconds },
    });
    this.worker.on('error', (err) => opts.log.error('worker error', { error: err.message }));
  }

  /** Start taking jobs. Resolves once connected. */
  async start(): Promise<void> {
    const adaptive = this.#o.adaptiveConcurrency;
    if (adaptive) {
      this.#tuner = setInterval(() => void this.#tune(adaptive).catch(() => {}), 2000);
      this.#tuner.unref();
    }
    void this.worker.run().catch((err: Error) => this.#o.log.error('worker stopped', { error: err.message }));
    await this.worker.waitUntilReady();
  }

  /**
   * Stop taking jobs and let in-flight ones finish; after `shutdownTimeoutMs` abort them and return
   * them to the queue. `force` skips the wait: in-flight calls are aborted and their jobs returned
   * now (if Redis cannot take them back, their locks expire and another worker takes them).
   */
  close(force = false): Promise<void> {
    clearInterval(this.#tuner);
    if (force) {
      // BullMQ's close(true) after a graceful close() would just wait for the graceful one: abort
      // the in-flight calls first, which hands their jobs back to the queue at once.
      this.worker.cancelAllJobs(shutdownReason);
      return this.worker.close(true);
    }
    this.#closing ??= (async () => {
      const timer = setTimeout(() => {
        this.#o.log.warn('shutdown timeout: returning in-flight jobs to the queue', {
          timeout_ms: this.#o.shutdownTimeoutMs,
        });
        this.worker.cancelAllJobs(shutdownReason);
      }, this.#o.shutdownTimeoutMs);
      try {
        await this.worker.close();
      } finally {
        clearTimeout(timer);
        await this.#queue?.close();
      }
    })();
    return this.#closing;
  }

  #key(id: string): string {
    return jobKey(this.#prefix, this.#o.queue, id);
  }

  /** Little's law: in-flight calls = request rate × latency; 1.5× headroom, plus a few for jitter. */
  async #tune(bounds: { min: number; max: number }): Promise<void> {
    if (this.#latencyMs === 0) return;
    const rps = await this.#o.limiter.requestRate();
    if (rps <= 0) return;
    const want = Math.ceil(rps * (this.#latencyMs / 1000) * 1.5) + 2;
    const next = Math.max(bounds.min, Math.min(bounds.max, want));
    const now = this.worker.concurrency;
    // Move only on a real change, so the log says something when it speaks.
    if (Math.abs(next - now) / now >= 0.2) {
      this.worker.concurrency = next;
      this.#o.log.info('concurrency adjusted', {
        from: now,
        to: next,
        request_rate_per_s: rps,
        latency_ms: Math.round(this.#latencyMs),
      });
    }
  }

  async #process(job: Job, token: string | undefined, signal: AbortSignal | undefined): Promise<JobResult> {
    const o = this.#o;
    const id = job.id ?? '';
    const key = this.#key(id);
    let request: JobRequest;
    try {
      request = validateJob(job.data, o.jobLimits).request;
    } catch (err) {
      if (!(err instanceof ValidationError)) throw err;
      const data = (job.data ?? {}) as { model?: unknown; max_tokens?: unknown; tenant_id?: unknown };
      const record = newRecord(
        {
          model: typeof data.model === 'string' ? data.model : 'unknown',
          max_tokens: typeof data.max_tokens === 'number' ? data.max_tokens : 0,
          messages: [],
          ...(typeof data.tenant_id === 'string' ? { tenant_id: data.tenant_id } : {}),
        },
        job.timestamp,
      );
      const now = Date.now();
      record.error_type = 'invalid_job';
      record.finished_at = iso(now);
      record.total_ms = now - job.timestamp;
      await this.#saveFinal(job, token, record);
      await this.#finished(job, 'failed', record);
      o.metrics.jobs.inc({ status: 'failed' });
      o.metrics.jobDuration.observe({ model: record.model, status: 'failed' }, record.total_ms / 1000);
      o.log.warn('invalid job', { job_id: id, field: err.field, error: err.message });
      throw new UnrecoverableError(`invalid job: ${err.message}`);
    }

    const record = (await loadRecord(o.connection, key)) ?? newRecord(request, job.timestamp);
    const startedAt = Date.now();
    if (record.started_at === null) {
      record.started_at = iso(startedAt);
      record.queue_wait_ms = Math.max(0, startedAt - job.timestamp);
      o.metrics.queueWait.observe({ model: request.model }, record.queue_wait_ms / 1000);
    }

    const plan = {
      model: request.model,
      inputTokens: estimateInputTokens(request),
      maxTokens: request.max_tokens,
      tenant: request.tenant_id ?? '',
      // BullMQ's priority carries the tenant rank too (fairness.ts); the limiter wants the user's.
      priority: job.opts.priority === undefined ? undefined : Math.floor(job.opts.priority / rankSlots),
    };
    for (;;) {
      let permit: Permit;
      try {
        permit = await o.limiter.acquire(plan, signal);
      } catch (err) {
        if (signal?.aborted) return this.#returnToQueue(job, token);
        throw err;
      }
      // Counted (and saved) before the call: a worker that dies mid-call has still spent the attempt.
      record.attempts += 1;
      await saveRecord(o.connection, key, record);
      let result: AttemptResult;
      try {
        result = await runAttempt(o.client, request, o.requestTimeoutMs, signal, (h) =>
          permit.observeHeaders(h),
        );
      } catch (err) {
        if (signal?.aborted && signal.reason === shutdownReason) {
          await permit.settle({ outcome: 'network_error', headers: null, retryAfterMs: null });
          record.attempts -= 1;
          await saveRecord(o.connection, key, record);
          return this.#returnToQueue(job, token);
        }
        const decision = classifyError(err);
        await permit.settle({
          outcome: decision.outcome,
          headers: decision.headers,
          retryAfterMs: decision.retryAfterMs,
        });
        if (await this.#rateLimitedAgain(job, record, request, decision)) continue;
        return this.#failedAttempt(job, token, record, request, decision);
      }
      const usage = result.message.usage;
      await permit.settle({
        outcome: 'success',
        headers: result.headers,
        retryAfterMs: null,
        inputTokens: usage.input_tokens,
        outputTokens: usage.output_tokens,
      });
      return this.#completed(job, token, record, request, result);
    }
  }

  /**
   * A 429 spends no attempt: the limiter has paused the group until `retry-after`, so the job simply
   * asks for a permit again. Bounded by `maxRateLimited`, so a job cannot loop for ever.
   */
  async #rateLimitedAgain(job: Job, record: JobRecord, request: JobRequest, d: Decision): Promise<boolean> {
    const o = this.#o;
    if (d.outcome !== 'rate_limited' || d.spendLimit) return false;
    record.rate_limited += 1;
    if (record.rate_limited > o.maxRateLimited) return false;
    record.status_code = d.statusCode;
    record.error_type = d.errorType;
    record.request_id = d.requestId;
    record.retries[d.reason] = (record.retries[d.reason] ?? 0) + 1;
    await saveRecord(o.connection, this.#key(job.id ?? ''), record);
    const model = request.model;
    o.metrics.requests.inc({ model, status_code: String(d.statusCode ?? 'none'), outcome: d.outcome });
    o.metrics.retries.inc({ model, reason: d.reason });
    this.#logAttempt(job, record, request, {
      outcome: d.outcome,
      error: d.message,
      retry: 'after the group pause',
    });
    return true;
  }

  async #finished(job: Job, status: FinishedEvent['status'], record: JobRecord): Promise<void> {
    try {
      await tenantJobDone(
        this.#o.connection,
        pendingKey(this.#prefix, this.#o.queue),
        record.tenant_id ?? '',
      );
    } catch (err) {
      this.#o.log.warn('tenant counter update failed', { job_id: job.id, error: (err as Error).message });
    }
    try {
      await this.#o.onFinished?.({ jobId: job.id ?? '', status, record });
    } catch (err) {
      // A hook's failure must not change the job's outcome.
      this.#o.log.warn('onFinished hook failed', { job_id: job.id, error: (err as Error).message });
    }
  }

  /**
   * A spend limit: no amount of waiting helps until someone raises it. Pause the whole queue (every
   * worker stops taking jobs), put this job back, and say so loudly. `promptq resume` continues.
   */
  async #spendLimit(job: Job, token: string | undefined, record: JobRecord, d: Decision): Promise<never> {
    const o = this.#o;
    await saveRecord(o.connection, this.#key(job.id ?? ''), record);
    this.#queue ??= new Queue(o.queue, { connection: o.connection, prefix: this.#prefix });
    await this.#queue.pause();
    o.log.error(
      'SPEND LIMIT REACHED: queue paused. Raise the limit in the Anthropic console, then run `promptq resume`',
      {
        job_id: job.id,
        queue: o.queue,
        error_code: d.errorCode,
        message: d.message,
      },
    );
    o.onSpendLimit?.(d.errorCode ?? 'spend_limit');
    await job.moveToDelayed(Date.now() + 1000, token);
    throw new DelayedError();
  }

  /** Put a job back without spending an attempt (shutdown). */
  async #returnToQueue(job: Job, token: string | undefined): Promise<never> {
    this.#o.log.info('job returned to the queue (shutdown)', { job_id: job.id });
    await job.moveToDelayed(Date.now(), token);
    throw new DelayedError();
  }

  /**
   * The finishing write: only while this worker still holds the job's lock, so a worker that froze
   * past its lock and woke up after another took the job over records, counts and reports nothing.
   */
  async #saveFinal(job: Job, token: string | undefined, record: JobRecord): Promise<void> {
    try {
      await saveFinalRecord(this.#o.connection, this.#key(job.id ?? ''), record, token, job.id ?? '');
    } catch (err) {
      if (err instanceof LockLostError) {
        this.#o.log.warn('lock lost before finishing: another worker owns the job; dropping this result', {
          job_id: job.id,
        });
      }
      throw err;
    }
  }

  async #completed(
    job: Job,
    token: string | undefined,
    record: JobRecord,
    request: JobRequest,
    r: AttemptResult,
  ): Promise<JobResult> {
    const o = this.#o;
    this.#latencyMs = this.#latencyMs === 0 ? r.latencyMs : this.#latencyMs * 0.9 + r.latencyMs * 0.1;
    const u = r.message.usage;
    const now = Date.now();
    record.input_tokens = u.input_tokens;
    record.output_tokens = u.output_tokens;
    record.cache_creation_input_tokens = u.cache_creation_input_tokens ?? 0;
    record.cache_read_input_tokens = u.cache_read_input_tokens ?? 0;
    record.latency_ms = r.latencyMs;
    record.ttft_ms = r.ttftMs;
    record.connect_ms = r.network ? Math.round(r.network.connect_ms ?? 0) : null;
    record.ttfb_ms = r.network?.ttfb_ms == null ? null : Math.round(r.network.ttfb_ms);
    record.status_code = r.statusCode;
    record.error_type = null;
    record.request_id = r.requestId;
    record.cost_usd = o.prices.cost(request.model, record);
    record.finished_at = iso(now);
    record.total_ms = now - job.timestamp;
    await this.#saveFinal(job, token, record);
    await this.#finished(job, 'completed', record);

    const model = request.model;
    const tenant = o.metrics.tenantLabel(request.tenant_id);
    o.metrics.requests.inc({ model, status_code: String(r.statusCode), outcome: 'success' });
    o.metrics.requestDuration.observe({ model, outcome: 'success' }, r.latencyMs / 1000);
    if (r.ttftMs !== null) o.metrics.ttft.observe({ model }, r.ttftMs / 1000);
    if (r.network) o.metrics.observeNetwork(model, r.network);
    o.metrics.tokens.inc({ model, tenant, type: 'input' }, record.input_tokens);
    o.metrics.tokens.inc({ model, tenant, type: 'output' }, record.output_tokens);
    o.metrics.tokens.inc({ model, tenant, type: 'cache_creation' }, record.cache_creation_input_tokens);
    o.metrics.tokens.inc({ model, tenant, type: 'cache_read' }, record.cache_read_input_tokens);
    o.metrics.cost.inc({ model, tenant }, record.cost_usd);
    o.metrics.jobs.inc({ status: 'completed' });
    o.metrics.jobDuration.observe({ model, status: 'completed' }, record.total_ms / 1000);
    if (o.prices.lookup(model) === undefined) {
      o.log.warn('no price for model; cost recorded as 0 (set PROMPTQ_PRICING_FILE)', {
        job_id: job.id,
        model,
      });
    }
    this.#logAttempt(job, record, request, {
      outcome: 'success',
      latency_ms: r.latencyMs,
      ttft_ms: r.ttftMs,
      ...(o.logPrompts ? { completion: r.message.content } : {}),
    });
    return { message: r.message, record };
  }

  async #failedAttempt(
    job: Job,
    token: string | undefined,
    record: JobRecord,
    request: JobRequest,
    d: Decision,
  ): Promise<never> {
    const o = this.#o;
    const model = request.model;
    record.status_code = d.statusCode;
    record.error_type = d.errorType;
    record.request_id = d.requestId;
    if (d.outcome === 'rate_limited' && d.spendLimit) record.rate_limited += 1;
    o.metrics.requests.inc({
      model,
      status_code: d.statusCode === null ? 'none' : String(d.statusCode),
      outcome: d.outcome,
    });

    // 429s do not count against the attempt budget (they have their own bound).
    const retry =
      d.retry && d.outcome !== 'rate_limited' && record.attempts - record.rate_limited < o.maxAttempts;
    if (d.spendLimit) return this.#spendLimit(job, token, record, d);
    if (retry) {
      const retriesSoFar = Object.values(record.retries).reduce((a, b) => a + b, 0);
      const delay = backoffMs(d, retriesSoFar + 1, Math.random, o.backoff ?? defaultBackoff);
      record.retries[d.reason] = (record.retries[d.reason] ?? 0) + 1;
      await saveRecord(o.connection, this.#key(job.id ?? ''), record);
      o.metrics.retries.inc({ model, reason: d.reason });
      this.#logAttempt(job, record, request, { outcome: d.outcome, error: d.message, retry_in_ms: delay });
      await job.moveToDelayed(Date.now() + delay, token);
      throw new DelayedError();
    }

    const now = Date.now();
    record.finished_at = iso(now);
    record.total_ms = now - job.timestamp;
    await this.#saveFinal(job, token, record);
    await this.#finished(job, 'failed', record);
    o.metrics.jobs.inc({ status: 'failed' });
    o.metrics.jobDuration.observe({ model, status: 'failed' }, record.total_ms / 1000);
    this.#logAttempt(job, record, request, { outcome: d.outcome, error: d.message, final: true });
    let why: string;
    if (d.outcome === 'rate_limited') {
      why = `rate limited ${record.rate_limited} times (the bound is ${o.maxRateLimited}): ${d.message}`;
    } else if (d.retry) {
      why = `gave up after ${record.attempts} attempts: ${d.errorType}${d.statusCode ? ` (${d.statusCode})` : ''}: ${d.message}`;
    } else {
      why = `${d.errorType}${d.statusCode ? ` (${d.statusCode})` : ''}: ${d.message}`;
    }
    throw new UnrecoverableError(why);
  }

  /** The one structured log line per API attempt (never the key; prompt text only when asked). */
  #logAttempt(job: Job, record: JobRecord, request: JobRequest, extra: Record<string, unknown>): void {
    const o = this.#o;
    o.log.info('api_attempt', {
      job_id: job.id,
      attempt: record.attempts,
      model: request.model,
      tenant_id: record.tenant_id,
      max_tokens: request.max_tokens,
      input_tokens: record.input_tokens,
      output_tokens: record.output_tokens,
      cache_creation_input_tokens: record.cache_creation_input_tokens,
      cache_read_input_tokens: record.cache_read_input_tokens,
      status_code: record.status_code,
      error_type: record.error_type,
      request_id: record.request_id,
      ...(o.logPrompts ? { messages: request.messages, system: request.system } : {}),
      ...extra,
    });
  }
}
