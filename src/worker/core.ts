/**
 * The worker core: one job in, one {@link JobOutcome} out, and one `finish` (finish.ts) that acts on it.
 *
 * Processing validates the job, loads (or starts) its record, then runs API attempts through the
 * limiter until one of them ends the processing. Retries are promptq's, not BullMQ's: the attempt
 * count lives in the record, so jobs added by any BullMQ client (with or without `attempts`) get the
 * same bounded policy, and a retry is a `moveToDelayed` with the delay the API asked for.
 *
 * The core saves the record and decides; everything else (metrics, logs, rollups, tenant counters,
 * pausing the queue) is a subscriber of the events it emits. It needs no BullMQ worker and no Redis
 * of its own: records go through a {@link RecordPort}.
 */
import { randomUUID } from 'node:crypto';
import type { Span } from '@opentelemetry/api';
import { DelayedError } from 'bullmq';
import { rankSlots } from '../core/fairness.js';
import { type JobRequest, ValidationError, validateJob } from '../core/job.js';
import { type JobRecord, newRecord } from '../core/record.js';
import type { JobResult } from '../core/result.js';
import type { JobLimits, WorkerConfig } from '../core/settings.js';
import { cachePrefixKey, estimateCachePrefixTokens, estimateInputTokens } from '../core/tokens.js';
import { inSpan, jobContext, SpanKind, withSpan } from '../core/trace.js';
import { dearestPricing, type WorstCasePricing } from '../core/worst-case.js';
import type { EventSink } from '../events/types.js';
import { type AccountRouter, accountNameOf, type Routing } from '../limiter/account-router.js';
import type { RateLimiter } from '../limiter/limiter.js';
import type { CallPlan, Permit } from '../limiter/types.js';
import { type AttemptResult, genAiProviderName, type Pricing, type Provider } from '../providers/provider.js';
import type { BudgetHold } from '../store/budget-store.js';
import { publicJobId } from '../store/keys.js';
import { type BudgetPort, worstCaseCost } from './budget.js';
import { emitAttempt, finish, iso, type JobHandle, type Run } from './finish.js';
import {
  type AttemptOutcome,
  type JobOutcome,
  judgeBudget,
  judgeError,
  judgeFallback,
  judgeSuccess,
  type RetryPolicy,
} from './outcome.js';
import type { RecordPort } from './records.js';
import { endAttemptSpan, recordQueueWait, startAttemptSpan } from './tracing.js';

/** The abort reason of a shutdown: the job goes back to the queue, no attempt spent. */
export const shutdownReason = 'promptq: worker shutting down';

/** The worker's settings a processor reads: the slice of `config.worker`, as it is. */
export type ProcessorSettings = Pick<
  WorkerConfig,
  | 'maxAttempts'
  | 'maxRateLimited'
  | 'fallbackAfterOverloaded'
  | 'backoff'
  | 'requestTimeoutMs'
  | 'budgetWait'
  | 'spendLimitDelayMs'
>;

export interface JobProcessorOptions extends ProcessorSettings {
  /** Who serves the calls (providers/provider.ts). */
  provider: Provider;
  limiter: Pick<RateLimiter, 'acquire'>;
  /** Several accounts (an accounts file): each call goes to one with room (limiter/account-router.ts). */
  router?: Pick<AccountRouter, 'acquire' | 'eligible'> | undefined;
  records: RecordPort;
  prices: Pricing;
  /** Where the job's events go (events/emitter.ts). */
  events: EventSink;
  /** `config.jobs.limits`: a job's data is validated against them when it is picked up. */
  jobLimits: JobLimits;
  /** Tenant budgets, checked before each call; without it no budget applies. */
  budgets?: BudgetPort | undefined;
  /** Jitter source. @defaultValue `Math.random` */
  random?: () => number;
  /**
   * How a write after an answered call is made: the worker tries it again while Redis refuses it
   * (worker/records.ts `retryRefused`). @defaultValue once
   */
  retryWrite?: <T>(what: string, write: () => Promise<T>) => Promise<T>;
}

export class JobProcessor {
  readonly #options: JobProcessorOptions;
  readonly #policy: RetryPolicy;

  constructor(opts: JobProcessorOptions) {
    this.#options = opts;
    this.#policy = {
      maxAttempts: opts.maxAttempts,
      maxRateLimited: opts.maxRateLimited,
      backoff: opts.backoff,
      random: opts.random ?? Math.random,
    };
  }

  /** BullMQ's processor: resolves with the result, or throws what tells BullMQ to delay or fail. */
  async process(job: JobHandle, token: string | undefined, signal?: AbortSignal): Promise<JobResult> {
    // One span per pickup, in the trace the job was enqueued in; a delay (retry) is not a failure.
    return inSpan(
      'promptq.process',
      {
        kind: SpanKind.CONSUMER,
        parent: jobContext(job.opts),
        attributes: {
          'messaging.system': 'bullmq',
          'messaging.operation.type': 'process',
          'messaging.message.id': job.id ?? '',
        },
        benign: (err) => err instanceof DelayedError,
      },
      () => this.#process(job, token, signal),
    );
  }

  async #process(job: JobHandle, token: string | undefined, signal?: AbortSignal): Promise<JobResult> {
    const bullId = job.id ?? '';
    const jobId = publicJobId(bullId);
    let request: JobRequest;
    try {
      request = validateJob(job.data, this.#options.jobLimits).request;
    } catch (err) {
      if (!(err instanceof ValidationError)) throw err;
      const record = invalidRecord(job);
      const run: Run = { job, bullId, jobId, token, record, request: undefined, model: record.model };
      return finish(this.#options, run, { kind: 'invalid', error: err });
    }

    // A job's record is written only while it is active: on its first pickup there is none to read.
    const firstPickup = job.attemptsStarted === 1;
    const record =
      (firstPickup ? null : await this.#options.records.load(bullId)) ?? newRecord(request, job.timestamp);
    const run: Run = { job, bullId, jobId, token, record, request, model: request.model };
    // Normalised on arrival (arrival.ts), a job's priority is in its hash, not in its options.
    const bullPriority = Number(job.priority) || job.opts.priority || 0;
    const plan: CallPlan = {
      model: request.model,
      inputTokens: estimateInputTokens(request),
      cachePrefixTokens: estimateCachePrefixTokens(request),
      cachePrefixKey: cachePrefixKey(request),
      maxTokens: request.max_tokens,
      // `speed: "fast"` is paced in its model group's fast bucket (`<group>-fast`).
      speed: request.speed,
      tenant: request.tenant_id ?? '',
      // BullMQ's priority carries the tenant rank too (fairness.ts); the limiter wants the user's.
      priority: bullPriority === 0 ? undefined : Math.floor(bullPriority / rankSlots),
    };
    for (;;) {
      const outcome = await this.#attempt(run, request, plan, signal);
      if (outcome.kind !== 'rate_limited') return finish(this.#options, run, outcome);
      // The limiter paused the group: save the count, then ask for a permit again.
      await this.#options.records.save(bullId, record);
      await emitAttempt(this.#options.events, run, outcome);
    }
  }

  /**
   * One call: its worst case held against its tenant's budgets (no room, no call), then the call —
   * whose permit the limiter gives only when the tenant's quota has room too — then the hold
   * settled to what the call cost (nothing, unless it completed).
   */
  async #attempt(run: Run, request: JobRequest, plan: CallPlan, signal?: AbortSignal): Promise<JobOutcome> {
    const budgets = this.#options.budgets;
    const tenant = request.tenant_id;
    if (budgets === undefined || tenant === undefined) return this.#call(run, request, plan, signal);
    const worst = worstCaseCost(request, this.#holdPrices(request, run.record));
    const costUsd = worst.kind === 'priced' ? worst.usd : null;
    const admission = await budgets.reserve(tenant, costUsd, `${run.jobId}:${randomUUID()}`);
    if (admission.kind === 'over') {
      return judgeBudget(
        run.record,
        {
          ...admission,
          tenant,
          costUsd: costUsd ?? 0,
          ...(worst.kind === 'unpriced' ? { what: worst.what } : {}),
        },
        this.#options.budgetWait,
        Date.now(),
        this.#policy.random,
      );
    }
    const hold: BudgetHold | undefined = admission.kind === 'held' ? admission.hold : undefined;
    let spent = 0;
    try {
      // A tenant with no record has no quota either: no round trip for it.
      plan.quota = admission.kind === 'unknown' ? undefined : await budgets.quotaOf(tenant);
      const outcome = await this.#call(run, request, plan, signal);
      if (outcome.kind === 'completed') spent = run.record.cost_usd ?? 0;
      return outcome;
    } finally {
      if (hold) await budgets.settle(hold, spent);
    }
  }

  /** The prices a hold is taken at: per model, the dearest account that may serve the call. */
  #holdPrices(request: JobRequest, record: JobRecord): WorstCasePricing {
    const router = this.#options.router;
    if (router === undefined) return this.#options.prices;
    const routing = routingOf(request, record);
    return dearestPricing(
      (model) => router.eligible(model, routing).map((a) => a.provider.prices),
      this.#options.prices,
    );
  }

  /** One permit, one API call, judged. */
  async #call(run: Run, request: JobRequest, plan: CallPlan, signal?: AbortSignal): Promise<JobOutcome> {
    const { record } = run;
    // The model to call: the job's, or the fallback model it moved to (kept in the record).
    const model = record.served_model ?? request.model;
    plan.model = model;
    const permit = await this.#permit(plan, routingOf(request, record), signal);
    if (!('settle' in permit)) return permit;
    // The account the router chose, or the one provider of a single account.
    const provider = 'provider' in permit ? (permit.provider as Provider) : this.#options.provider;
    record.provider = provider.name;
    record.account = accountNameOf(provider);
    // Started at its first permit: a job handed back before it (deferred) is still waiting in the queue.
    if (record.started_at === null) {
      const now = Date.now();
      record.started_at = iso(now);
      record.queue_wait_ms = Math.max(0, now - run.job.timestamp);
      recordQueueWait(run.job.opts, run.jobId, run.job.timestamp, now);
      await this.#options.events.emit('started', { jobId: run.jobId, model: run.model, record, request });
    }
    // Counted (and saved) before the call: a worker that dies mid-call has still spent the attempt.
    record.attempts += 1;
    await this.#options.records.save(run.bullId, record);
    const genAi = genAiProviderName(provider.name);
    const span = startAttemptSpan(genAi, { ...request, model }, run.jobId, record.attempts);
    run.span = span;
    run.attemptModel = model;
    let result: AttemptResult;
    const started = performance.now();
    try {
      result = await withSpan(span, () =>
        provider.stream({
          request,
          model,
          timeoutMs: this.#options.requestTimeoutMs,
          signal,
          onSignals: (signals) => permit.observeSignals(signals),
          // Relayed to event streams (SSE) off the call's path.
          onStreamEvent: (event) => {
            if (event.type === 'content_block_delta') permit.observeFirstToken?.();
            void this.#options.events.emit('stream', { jobId: run.jobId, tenant: request.tenant_id, event });
          },
        }),
      );
    } catch (err) {
      run.attemptMs = performance.now() - started;
      return this.#failedCall(run, request, permit, err, signal, provider);
    }
    run.attemptMs = performance.now() - started;
    const usage = result.message.usage;
    // The call is answered (and paid): a refused limiter write must not undo it.
    const retryWrite = this.#options.retryWrite ?? ((_, write) => write());
    await retryWrite('limiter settle', () =>
      permit.settle({
        outcome: 'success',
        signals: result.signals,
        retryAfterMs: null,
        inputTokens: usage.input_tokens,
        outputTokens: usage.output_tokens,
        cacheCreationInputTokens: usage.cache_creation_input_tokens ?? 0,
        cacheReadInputTokens: usage.cache_read_input_tokens ?? 0,
      }),
    );
    record.overloaded_in_a_row = 0;
    return judged(span, judgeSuccess(record, result, model, provider.prices), record);
  }

  /** The limiter's permit, or what becomes of the job without one (deferred, over quota, returned). */
  async #permit(plan: CallPlan, routing: Routing, signal?: AbortSignal): Promise<Permit | JobOutcome> {
    try {
      const router = this.#options.router;
      const answer = await inSpan('promptq.limiter.wait', {}, () =>
        router
          ? router.acquire(plan, routing, signal, { mayDefer: true })
          : this.#options.limiter.acquire(plan, signal, { mayDefer: true }),
      );
      if (!('deferred' in answer)) return answer;
      if (answer.reason !== 'quota')
        return { kind: 'deferred', untilMs: answer.untilMs, reason: answer.reason };
      // Over its tenant's quota: a little past the wait, spread, so that the tenant's waiting
      // jobs do not all return at once.
      const waitMs = Math.max(0, answer.untilMs - Date.now());
      const delayMs = Math.round(waitMs * (1 + 0.5 * this.#policy.random())) + 50;
      return { kind: 'over_quota', tenant: plan.tenant, resource: answer.resource ?? 'requests', delayMs };
    } catch (err) {
      if (signal?.aborted) return { kind: 'returned' };
      throw err;
    }
  }

  /** A call that threw: handed back on shutdown (no attempt spent), else classified and judged. */
  async #failedCall(
    run: Run,
    request: JobRequest,
    permit: Permit,
    err: unknown,
    signal: AbortSignal | undefined,
    provider: Provider,
  ): Promise<JobOutcome> {
    const { record } = run;
    const span = run.span as Span;
    if (signal?.aborted && signal.reason === shutdownReason) {
      span.addEvent('promptq.returned');
      span.end();
      await permit.settle({ outcome: 'network_error', signals: null, retryAfterMs: null });
      record.attempts -= 1;
      await this.#options.records.save(run.bullId, record);
      return { kind: 'returned' };
    }
    const decision = provider.classify(err, request.speed);
    await permit.settle({
      outcome: decision.outcome,
      signals: decision.signals,
      retryAfterMs: decision.retryAfterMs,
      // No such model: the API counted the call against no rate limit (its charge goes back).
      notCharged: decision.statusCode === 404 && decision.errorType === 'not_found_error',
    });
    const outcome = judgeError(record, decision, this.#policy);
    if (!request.fallback_models) return judged(span, outcome, record);
    const models = [request.model, ...request.fallback_models];
    const after = this.#options.fallbackAfterOverloaded;
    return judged(span, judgeFallback(record, outcome, models, after, this.#policy), record);
  }
}

/**
 * Which accounts the job allows, and the one to avoid. After an overload, a server error or no
 * answer at all, a job stays on its account unless it opted in (`account_fallback`): then its next
 * attempt avoids that account when another is eligible.
 */
function routingOf(request: JobRequest, record: JobRecord): Routing {
  const routing = accountRouting(request, record);
  // A fast job goes only to accounts with fast mode.
  return request.speed === 'fast' ? { ...routing, speed: 'fast' } : routing;
}

function accountRouting(request: JobRequest, record: JobRecord): Routing {
  const accounts = typeof request.account === 'string' ? [request.account] : request.account;
  const last = record.account;
  const failed =
    last !== null &&
    ((record.status_code ?? 0) >= 500 ||
      ['network_error', 'timeout_error', 'overloaded_error', 'api_error'].includes(record.error_type ?? ''));
  if (!failed || last === null) return { accounts };
  if (request.account_fallback) return { accounts, avoid: last };
  return { accounts: accounts === undefined || accounts.includes(last) ? [last] : accounts };
}

/** The attempt's span gets its answer and ends, before the record is saved and the events go out. */
function judged(span: Span, outcome: AttemptOutcome, record: JobRecord): AttemptOutcome {
  endAttemptSpan(span, outcome, record);
  return outcome;
}

/** The record of a job whose data did not validate: what could be read of it, and the error type. */
function invalidRecord(job: JobHandle): JobRecord {
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
  record.error_type = 'invalid_job';
  return record;
}
