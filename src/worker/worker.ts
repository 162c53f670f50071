/**
 * The BullMQ worker around the {@link JobProcessor}: its lifecycle (start, graceful and forced
 * shutdown, lock and stall settings), adaptive concurrency, and the subscribers every worker needs
 * (the attempt log, the spend-limit pauser; the tenant fairness counters go with the final record
 * save). Metrics and rollups are the service's to add: `worker.on(event, listener)`, or subscribers
 * of the {@link PromptqEvents} it is given (ops/service.ts).
 */
import { DelayedError, type Job, Worker } from 'bullmq';
import type { Logger } from '../core/log.js';
import { RepeatedLog } from '../core/log-repeats.js';
import type { PromptqConfig } from '../core/settings.js';
import { PromptqEvents } from '../events/emitter.js';
import type { EventListeners, EventName, EventSource, ListenOptions } from '../events/types.js';
import type { AccountRouter } from '../limiter/account-router.js';
import type { RateLimiter } from '../limiter/limiter.js';
import type { Pricing, Provider } from '../providers/provider.js';
import type { RedisConnection as Redis } from '../store/connection.js';
import type { Keyspace } from '../store/keys.js';
import { normaliseArrival } from './arrival.js';
import { type BudgetPort, redisBudgets } from './budget.js';
import { ConcurrencyTuner } from './concurrency.js';
import { JobProcessor, shutdownReason } from './core.js';
import { type OnRefusedWrite, redisRecords, retryRefused, retryRefusedWrites } from './records.js';
import { subscribeAttemptLog } from './subscribers/attempt-log.js';
import { SpendLimitPauser } from './subscribers/spend-limit-pauser.js';

/** The slices of the configuration a worker reads (core/settings.ts). */
export type WorkerSettings = Pick<PromptqConfig, 'worker' | 'jobs' | 'labels' | 'log' | 'observers'>;

export interface PromptWorkerOptions {
  /** A Redis connection the worker may use (BullMQ duplicates it for blocking calls). */
  connection: Redis;
  /** The queue's keys (`keyspaceOf(config)`): BullMQ's prefix, the records, the tenants' counters. */
  keys: Keyspace;
  /** What it runs with: `config.worker`, `config.jobs`, `config.labels`, `config.log`, as resolved. */
  config: WorkerSettings;
  /** Who serves the calls (providers/registry.ts makes one from the configuration). */
  provider: Provider;
  limiter: Pick<RateLimiter, 'acquire' | 'requestShare'>;
  /**
   * Several accounts: each call goes to one with room (limiter/account-router.ts), and the worker's
   * concurrency follows their summed request rate. @defaultValue `undefined` (`limiter` alone)
   */
  router?: AccountRouter | undefined;
  prices: Pricing;
  log: Logger;
  /**
   * Where the jobs' events go: share one with the producer, the limiter and the subscribers of a
   * process. @defaultValue a new one of the worker's own (listen with `worker.on`)
   */
  events?: PromptqEvents;
  /** Enforce tenants' budgets (docs/tenants.md). @defaultValue `true` */
  budgets?: boolean;
}

export class PromptWorker implements EventSource {
  readonly worker: Worker;
  readonly #log: Logger;
  readonly #shutdownTimeoutMs: number;
  readonly #events: PromptqEvents;
  /** The events are the worker's own: it closes them. */
  readonly #ownsEvents: boolean;
  readonly #pauser: SpendLimitPauser;
  readonly #tuner: ConcurrencyTuner | undefined;
  #closing: Promise<void> | undefined;

  constructor(options: PromptWorkerOptions) {
    const { connection, keys, log, config } = options;
    const settings = config.worker;
    this.#log = log;
    this.#shutdownTimeoutMs = settings.shutdownTimeoutMs;
    this.#ownsEvents = options.events === undefined;
    this.#events =
      options.events ??
      new PromptqEvents({
        log,
        queueCapacity: config.observers.queueCapacity,
        repeatIntervalMs: config.log.repeatIntervalMs,
      });
    subscribeAttemptLog(this.#events, {
      log,
      logPrompts: settings.logPrompts,
      maxModelLabels: config.labels.maxModels,
    });
    this.#pauser = new SpendLimitPauser({
      connection,
      queue: keys.queue,
      prefix: keys.prefix,
      log,
    }).subscribe(this.#events);

    // One line per distinct error, then a summary: a Redis outage makes one per reconnect attempt.
    const repeats = new RepeatedLog(log, { intervalMs: config.log.repeatIntervalMs });
    // A write Redis refuses (OOM, READONLY…) after the API answered is kept and tried again.
    const onRefused: OnRefusedWrite = (what, code) =>
      repeats.warn('Redis refused a write; keeping it and trying again', { error: code, write: what });
    const processor = new JobProcessor({
      ...settings,
      jobLimits: config.jobs.limits,
      provider: options.provider,
      limiter: options.limiter,
      router: options.router,
      records: retryRefusedWrites(redisRecords(connection, keys), settings.writeRetryMs, onRefused),
      retryWrite: (what, write) => retryRefused(what, write, settings.writeRetryMs, onRefused),
      prices: options.prices,
      events: this.#events,
      budgets:
        options.budgets === false
          ? undefined
          : settleRetried(
              redisBudgets(
                connection,
                keys,
                settings.requestTimeoutMs + settings.budgetHoldGraceMs,
                settings.tenantUnknownCacheMs,
              ),
              settings.writeRetryMs,
              onRefused,
            ),
    });
    const arrival = {
      connection,
      keys,
      defaultPriority: config.jobs.defaultPriority,
      jobLimits: config.jobs.limits,
    };
    const process = async (job: Job, token: string | undefined, signal?: AbortSignal) => {
      // A job from another BullMQ client without promptq's priority goes back in its turn (arrival.ts).
      if (await normaliseArrival(job, token, arrival)) throw new DelayedError();
      return processor.process(job, token, signal);
    };
    this.worker = new Worker(keys.queue, process, {
      connection,
      prefix: keys.prefix,
      concurrency: settings.concurrency,
      autorun: false,
      // LLM calls can take minutes: the lock is renewed every lockDuration/2 while the event loop
      // runs, so only a dead or frozen worker loses it, however long the call.
      lockDuration: settings.lockDurationMs,
      stalledInterval: settings.stalledIntervalMs,
      maxStalledCount: settings.maxStalledCount,
      removeOnComplete: { age: config.jobs.keepCompletedSeconds },
      removeOnFail: { age: config.jobs.keepFailedSeconds },
    });
    this.worker.on('error', (err) => repeats.error('worker error', { error: err.message }));
    this.#tuner = settings.adaptiveConcurrency
      ? this.#adaptConcurrency(options, settings.adaptiveConcurrency)
      : undefined;
  }

  /** Concurrency follows this process's share of the limiter's request rate and the observed latency (worker/concurrency.ts). */
  #adaptConcurrency(
    options: PromptWorkerOptions,
    bounds: Exclude<WorkerSettings['worker']['adaptiveConcurrency'], false>,
  ): ConcurrencyTuner {
    const tuner = new ConcurrencyTuner({
      ...bounds,
      // A process counts among an account's while it asked for a permit within three looks.
      requestRate: () => requestShareOf(options, 3 * bounds.intervalMs),
      target: this.worker,
      log: options.log,
    });
    this.#events.on('attempt', (e) => {
      const latencyMs = e.outcome.kind === 'completed' ? e.outcome.result.latencyMs : null;
      if (latencyMs !== null) tuner.observe(latencyMs);
    });
    return tuner;
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
    void this.worker.run().catch((err: Error) => this.#log.error('worker stopped', { error: err.message }));
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
        this.#log.warn('shutdown timeout: returning in-flight jobs to the queue', {
          timeout_ms: this.#shutdownTimeoutMs,
        });
        this.worker.cancelAllJobs(shutdownReason);
      }, this.#shutdownTimeoutMs);
      try {
        await this.worker.close();
      } finally {
        clearTimeout(timer);
        // What finished jobs still owe their observers (rollups) is written before Redis closes.
        if (!(await this.#events.idle(this.#shutdownTimeoutMs))) {
          this.#log.warn('shutdown: event listeners still busy, not waiting for them', {
            timeout_ms: this.#shutdownTimeoutMs,
          });
        }
        if (this.#ownsEvents) this.#events.close();
        await this.#pauser.close();
      }
    })();
    return this.#closing;
  }
}

/** A budget port whose settle (the charge of a call already made) is tried again while Redis refuses it. */
function settleRetried(port: BudgetPort, maxMs: number, onRefused: OnRefusedWrite): BudgetPort {
  return {
    ...port,
    settle: (hold, usd) => retryRefused('budget settle', () => port.settle(hold, usd), maxMs, onRefused),
  };
}

/** This process's share of the requests per second the worker's accounts may take together. */
async function requestShareOf(options: PromptWorkerOptions, windowMs: number): Promise<number> {
  if (options.router === undefined) return options.limiter.requestShare(windowMs);
  const rates = await Promise.all(options.router.accounts.map((a) => a.limiter.requestShare(windowMs)));
  return rates.reduce((a, b) => a + b, 0);
}
