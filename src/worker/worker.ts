/**
 * The BullMQ worker around the {@link JobProcessor}: its lifecycle (start, graceful and forced
 * shutdown, lock and stall settings), adaptive concurrency, and the subscribers every worker needs
 * (the attempt log, the spend-limit pauser; the tenant fairness counters go with the final record
 * save). Metrics and rollups are the service's to add: `worker.on(event, listener)`, or subscribers
 * of the {@link PromptqEvents} it is given (ops/service.ts).
 */
import { Worker } from 'bullmq';
import { defaults } from '../core/defaults.js';
import type { JobLimits } from '../core/job-schema.js';
import type { Logger } from '../core/log.js';
import { RepeatedLog } from '../core/log-repeats.js';
import { PromptqEvents } from '../events/emitter.js';
import type { EventListeners, EventName, EventSource, ListenOptions } from '../events/types.js';
import type { RateLimiter } from '../limiter/limiter.js';
import type { Pricing, Provider } from '../providers/provider.js';
import type { RedisConnection as Redis } from '../store/connection.js';
import { queueKeys } from '../store/keys.js';
import type { BackoffPolicy } from './backoff.js';
import { redisBudgets } from './budget.js';
import { ConcurrencyTuner } from './concurrency.js';
import { JobProcessor, shutdownReason } from './core.js';
import { redisRecords } from './records.js';
import { subscribeAttemptLog } from './subscribers/attempt-log.js';
import { SpendLimitPauser } from './subscribers/spend-limit-pauser.js';

export interface PromptWorkerOptions {
  /** A Redis connection the worker may use (BullMQ duplicates it for blocking calls). */
  connection: Redis;
  queue: string;
  /** BullMQ key prefix. @defaultValue `bull` */
  prefix?: string;
  /** Who serves the calls (providers/registry.ts makes one from the configuration). */
  provider: Provider;
  limiter: Pick<RateLimiter, 'acquire' | 'requestRate'>;
  prices: Pricing;
  log: Logger;
  /**
   * Where the jobs' events go: share one with the producer, the limiter and the subscribers of a
   * process. @defaultValue a new one of the worker's own (listen with `worker.on`)
   */
  events?: PromptqEvents;
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
  /** Overloaded answers in a row before a job with `fallback_models` moves on. @defaultValue `2` */
  fallbackAfterOverloaded?: number;
  /** Backoff between attempts when the API gives no retry-after. @defaultValue `defaultBackoff` */
  backoff?: BackoffPolicy;
  requestTimeoutMs: number;
  /** Graceful shutdown waits this long for in-flight jobs, then returns them to the queue. */
  shutdownTimeoutMs: number;
  logPrompts: boolean;
  jobLimits: JobLimits;
  keepCompletedSeconds: number;
  keepFailedSeconds: number;
  /** A job's lock lifetime (renewed every half of it while this process lives). @defaultValue `60000` */
  lockDurationMs?: number;
  /** How often to look for jobs whose lock expired. @defaultValue `30000` */
  stalledIntervalMs?: number;
  /** Enforce tenants' budgets (docs/tenants.md). @defaultValue `true` */
  budgets?: boolean;
}

export class PromptWorker implements EventSource {
  readonly worker: Worker;
  readonly #options: PromptWorkerOptions;
  readonly #events: PromptqEvents;
  /** The events are the worker's own: it closes them. */
  readonly #ownsEvents: boolean;
  readonly #pauser: SpendLimitPauser;
  readonly #tuner: ConcurrencyTuner | undefined;
  #closing: Promise<void> | undefined;

  constructor(opts: PromptWorkerOptions) {
    this.#options = opts;
    const { connection, queue, log } = opts;
    const prefix = opts.prefix ?? defaults.prefix;
    this.#ownsEvents = opts.events === undefined;
    this.#events = opts.events ?? new PromptqEvents({ log });
    subscribeAttemptLog(this.#events, { log, logPrompts: opts.logPrompts });
    this.#pauser = new SpendLimitPauser({ connection, queue, prefix, log }).subscribe(this.#events);

    const processor = new JobProcessor({
      provider: opts.provider,
      limiter: opts.limiter,
      records: redisRecords(connection, prefix, queue),
      prices: opts.prices,
      events: this.#events,
      maxAttempts: opts.maxAttempts,
      maxRateLimited: opts.maxRateLimited,
      ...(opts.fallbackAfterOverloaded ? { fallbackAfterOverloaded: opts.fallbackAfterOverloaded } : {}),
      ...(opts.backoff ? { backoff: opts.backoff } : {}),
      requestTimeoutMs: opts.requestTimeoutMs,
      jobLimits: opts.jobLimits,
      budgets:
        opts.budgets === false
          ? undefined
          : redisBudgets(
              connection,
              queueKeys(queue, { prefix }),
              opts.requestTimeoutMs + defaults.budgetHoldGraceMs,
            ),
    });
    this.worker = new Worker(queue, (job, token, signal) => processor.process(job, token, signal), {
      connection,
      prefix,
      concurrency: opts.concurrency,
      autorun: false,
      // LLM calls can take minutes: the lock is renewed every lockDuration/2 while the event loop
      // runs, so only a dead or frozen worker loses it, however long the call.
      lockDuration: opts.lockDurationMs ?? defaults.lockDurationMs,
      stalledInterval: opts.stalledIntervalMs ?? defaults.stalledIntervalMs,
      maxStalledCount: defaults.maxStalledCount,
      removeOnComplete: { age: opts.keepCompletedSeconds },
      removeOnFail: { age: opts.keepFailedSeconds },
    });
    // One line per distinct error, then a summary: a Redis outage makes one per reconnect attempt.
    const repeats = new RepeatedLog(log);
    this.worker.on('error', (err) => repeats.error('worker error', { error: err.message }));

    if (opts.adaptiveConcurrency) {
      const tuner = new ConcurrencyTuner({
        ...opts.adaptiveConcurrency,
        requestRate: () => opts.limiter.requestRate(),
        target: this.worker,
        log,
      });
      this.#events.on('attempt', (e) => {
        const latencyMs = e.outcome.kind === 'completed' ? e.outcome.result.latencyMs : null;
        if (latencyMs !== null) tuner.observe(latencyMs);
      });
      this.#tuner = tuner;
    }
  }

  /** Listen to the worker's events (see {@link EventListeners}); listeners run in the order added. */
  on<E extends EventName>(event: E, listener: EventListeners[E], options?: ListenOptions): this {
    this.#events.on(event, listener, options);
    return this;
  }

  off<E extends EventName>(event: E, listener: EventListeners[E]): this {
    this.#events.off(event, listener);
    return this;
  }

  /** Start taking jobs. Resolves once connected. */
  async start(): Promise<void> {
    this.#tuner?.start();
    void this.worker
      .run()
      .catch((err: Error) => this.#options.log.error('worker stopped', { error: err.message }));
    await this.worker.waitUntilReady();
  }

  /**
   * Stop taking jobs and let in-flight ones finish; after `shutdownTimeoutMs` abort them and return
   * them to the queue. `force` skips the wait: in-flight calls are aborted and their jobs returned
   * now (if Redis cannot take them back, their locks expire and another worker takes them).
   */
  close(force = false): Promise<void> {
    this.#tuner?.stop();
    if (force) {
      // BullMQ's close(true) after a graceful close() would just wait for the graceful one: abort
      // the in-flight calls first, which hands their jobs back to the queue at once.
      this.worker.cancelAllJobs(shutdownReason);
      return this.worker.close(true);
    }
    this.#closing ??= (async () => {
      const timer = setTimeout(() => {
        this.#options.log.warn('shutdown timeout: returning in-flight jobs to the queue', {
          timeout_ms: this.#options.shutdownTimeoutMs,
        });
        this.worker.cancelAllJobs(shutdownReason);
      }, this.#options.shutdownTimeoutMs);
      try {
        await this.worker.close();
      } finally {
        clearTimeout(timer);
        // What finished jobs still owe their observers (rollups) is written before Redis closes.
        if (!(await this.#events.idle(this.#options.shutdownTimeoutMs))) {
          this.#options.log.warn('shutdown: event listeners still busy, not waiting for them', {
            timeout_ms: this.#options.shutdownTimeoutMs,
          });
        }
        if (this.#ownsEvents) this.#events.close();
        await this.#pauser.close();
      }
    })();
    return this.#closing;
  }
}
