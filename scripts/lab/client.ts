/**
 * The lab's harness: the REAL RateLimiter (src/limiter, its Lua on a real Redis) in front of the API
 * model, in virtual time (virtual-time.ts). Each simulated worker process is a RateLimiter of its
 * own with its own Redis connection; all share one Redis, as processes of one account do.
 *
 * Each process has, per model family, enough worker slots that demand never binds; each slot runs
 * jobs one after another as promptq's worker does (worker/core.ts): acquire with `mayDefer`; a
 * deferred job comes back at `untilMs` (here the slot holds it: every job of the family is alike,
 * so picking another would defer it the same way); a 429 settles and asks again at once; a 529
 * settles and retries after the worker's own backoff (worker/backoff.ts); a job rate limited more
 * than `worker.maxRateLimited` times fails. Headers reach the permit when the answer's first byte
 * does; the settle comes with the last one, both parsed by the Anthropic provider's own parsers.
 */

import type { Redis } from 'ioredis';
import { resolveConfig } from '../../src/core/config.js';
import { defaults } from '../../src/core/defaults.js';
import type { LimiterTuning } from '../../src/core/settings.js';
import { RateLimiter } from '../../src/limiter/limiter.js';
import type { CallPlan, Deferral, Permit } from '../../src/limiter/types.js';
import { parseRetryAfter } from '../../src/providers/anthropic/classify.js';
import { parseRateLimitHeaders } from '../../src/providers/anthropic/rate-limit-headers.js';
import type { Decision } from '../../src/providers/provider.js';
import { Keyspace } from '../../src/store/keys.js';
import { backoffMs } from '../../src/worker/backoff.js';
import { ApiModel, type ApiRequest, type Reply } from './api-model.js';

export { START } from './ideal.js';

import { type Condition, drawApiRequest, type Workload } from './conditions.js';
import { idealRun, type SetResult, START, utilisationVsIdeal } from './ideal.js';
import { Rng } from './rng.js';
import { type SlotPool, tunedPool } from './slot-pool.js';
import { VirtualTime } from './virtual-time.js';

/** Who asks before each call: promptq's limiter, or a control that never waits. */
export type ClientKind = 'promptq' | 'none';

/**
 * Worker slots per process: `ample` (enough per family that demand never binds: the limiter alone
 * is judged), or `tuner` (the worker's own ConcurrencyTuner sizes each process's slots from its
 * share of the account, as `promptq worker` does with no `PROMPTQ_CONCURRENCY`; slot-pool.ts).
 */
export type SlotsKind = 'ample' | 'tuner';

export interface HarnessOptions {
  client?: ClientKind;
  /** @defaultValue `ample` */
  slots?: SlotsKind;
  /** Tuning over the defaults (controls: a limiter that holds back too much). */
  tuning?: Partial<LimiterTuning>;
}

export type { SetResult };

export interface ConditionResult {
  id: string;
  /**
   * The lowest utilisation of the binding resource over the condition's bucket sets (vs ideal);
   * `null` when there is none to measure: the ideal client used no bucket set in the measured
   * interval (report.ts leaves these out of the utilisation and counts them).
   */
  utilisation: number | null;
  sets: SetResult[];
  /** Requests that reached the API (the model's counters), refused ones included. */
  arrivals: number;
  refused429: number;
  refused529: number;
  share429: number;
  /** The same after the warm-up (the steady state). */
  share429Steady: number;
  /** Calls sent and refused (429 or 529). */
  wasted: number;
  /** Jobs that failed for rate limits (more than maxRateLimited 429s). */
  failedForRateLimits: number;
  /** Jobs that gave up after 529s (the API's fault, reported apart). */
  failedForOverload: number;
  /** Times the limiter handed a job back (a deferral): each a look at the buckets that admitted nothing. */
  handedBack: number;
  /** `--slots tuner`: the most worker slots the processes held together (the tuner's sizes). */
  peakSlots?: number;
  /**
   * The longest time (ms) from the end of a 529 burst to the first request the API admitted after
   * it, over the bursts that ended at least 10 s before the run did (a burst never recovered from
   * counts those 10 s or more: up to the run's end); null: no such burst. The ideal client's is 0.
   */
  overloadRecoveryMs: number | null;
  /** Virtual time run: less than the condition's when it ran out of its budget (`stalled`). */
  virtualMs: number;
  /** The limiter took more than its budget of steps or timer firings (it polls in a loop): cut short. */
  stalled: boolean;
  realMs: number;
  /** Instants the virtual clock moved to. */
  steps: number;
  /** Timers fired, zero-delay ones included. */
  firings: number;
}

const maxRateLimited = defaults.worker.maxRateLimited;
/**
 * Steps (instants the virtual clock moves to) a condition may take per call the ideal client makes
 * (a call takes about 8): a limiter polling in a loop would take forever in real time. Past it the
 * condition is cut short and reported `stalled`. Timers due at the instant the clock stands at
 * (Bottleneck's zero-delay yields, every slot's deferral at one instant) are no step of their own.
 */
export const stepsPerCall = 10;
/** …and per worker slot (each starts, and may be deferred, on its own)… */
export const stepsPerSlot = 3;
/** …and at most this many in all. */
export const maxSteps = 20_000;

/**
 * A waiting slot may look once per this much of the run without polling: a job handed back came
 * back at most 5 s later (`maxDeferMs` when the budget was set; the limiter may space them further).
 */
export const lookEveryMs = 5_000;

/** A condition's step budget: per call, per slot, and one look per waiting slot per {@link lookEveryMs}. */
export function stepBudget(c: Condition): number {
  const slots = c.processes * c.slots.reduce((a, b) => a + b, 0);
  const looks = slots * Math.ceil(c.durationMs / lookEveryMs);
  return Math.min(maxSteps, Math.max(1500, stepsPerCall * c.expectedCalls + stepsPerSlot * slots + looks));
}

/**
 * Timers fired (zero-delay ones included) per step of the budget: a limiter that polls without
 * letting the clock move (a loop of zero-delay timers) is cut short by this.
 */
export const firingsPerStep = 100;
const maxAttempts = defaults.worker.maxAttempts;

interface Ctx {
  c: Condition;
  /** Per family: jobs due again after a 529's backoff (they held no slot meanwhile). */
  retries: Job[][];
  model: ApiModel;
  rng: Rng;
  stopped: boolean;
  failedRl: number;
  failedOverload: number;
  jobs: number;
  handedBack: number;
  /** `--slots tuner`: the most slots the processes held together. */
  peakSlots?: number;
}

type Acquire = (plan: CallPlan) => Promise<Permit | Deferral>;

/** Run one condition on `conns` (one connection per simulated process, at least `c.processes`). */
export async function runCondition(
  c: Condition,
  conns: Redis[],
  opts: HarnessOptions = {},
): Promise<ConditionResult> {
  const realStart = performance.now();
  const used = conns.slice(0, c.processes);
  if (used.length < c.processes) throw new Error(`need ${c.processes} connections`);
  const rng = Rng.of(c.seed, c.index, 0x5eed);
  const random = Math.random;
  Math.random = () => rng.float();
  const vt = new VirtualTime(START, used);
  try {
    const model = new ApiModel(c.api, START, Rng.of(c.seed, c.index, 0xa91));
    model.measureFrom = START + c.warmupMs;
    const ctx: Ctx = {
      c,
      retries: c.workload.map(() => []),
      model,
      rng,
      stopped: false,
      failedRl: 0,
      failedOverload: 0,
      handedBack: 0,
      jobs: 0,
    };
    const config = resolveConfig({ limiter: { tuning: opts.tuning ?? {} } }).limiter;
    const account = `lab-${c.id}`;
    const pools: SlotPool[] = [];
    const limiters = used.map(
      (redis) => new RateLimiter({ redis, account, keys: new Keyspace({ queue: 'lab' }), config }),
    );
    limiters.forEach((limiter, p) => {
      const acquire: Acquire =
        opts.client === 'none'
          ? async () => noLimit
          : (plan) => limiter.acquire(plan, undefined, { mayDefer: true });
      if (opts.slots === 'tuner') {
        pools.push(tunedPool(c, limiter, (fam, id, pool) => slot(ctx, acquire, fam, p * 1000 + id, pool)));
        return;
      }
      c.workload.forEach((_, fam) => {
        for (let s = 0; s < (c.slots[fam] ?? 1); s++) void slot(ctx, acquire, fam, p * 1000 + s);
      });
    });
    const budget = stepBudget(c);
    const reached = await vt.runUntil(START + c.durationMs, budget, firingsPerStep * budget);
    ctx.stopped = true;
    for (const pool of pools) pool.stop();
    if (pools.length > 0) ctx.peakSlots = pools.reduce((n, pool) => n + pool.peak, 0);
    // Whatever still waits sleeps on this clock's timers, which never fire once it is uninstalled.
    for (const limiter of limiters) void limiter.close().catch(() => {});
    await vt.quiesce();
    return summarize(ctx, vt, reached - START, performance.now() - realStart);
  } finally {
    vt.uninstall();
    Math.random = random;
  }
}

const noLimit: Permit = { observeSignals: () => {}, settle: async () => {} };

const never = new Promise<never>(() => {});
/** Sleep in virtual time; once the condition ended, never wake (nothing of it runs on after its clock). */
const vsleep = (ctx: Ctx, ms: number) =>
  ctx.stopped ? never : new Promise<void>((resolve) => setTimeout(resolve, Math.max(0, ms)));

/** One worker slot: jobs one after another until the condition ends (or its pool shrinks). */
async function slot(ctx: Ctx, acquire: Acquire, fam: number, slotId: number, pool?: SlotPool): Promise<void> {
  // Slots start over the first 100 ms, not all in one instant.
  await vsleep(ctx, (slotId % 100) + ctx.rng.float());
  while (!ctx.stopped && pool?.keep(fam) !== false) {
    try {
      await runJob(ctx, acquire, fam, ctx.retries[fam]?.shift() ?? drawRequest(ctx, fam), pool);
    } catch (err) {
      if (!ctx.stopped) throw err;
    }
  }
}

/** A job: its request, what promptq plans for it, its attempts so far. */
interface Job {
  req: ApiRequest;
  plan: CallPlan;
  attempts: number;
  rateLimited: number;
}

function drawRequest(ctx: Ctx, fam: number): Job {
  const w = ctx.c.workload[fam] as Workload;
  const { rng } = ctx;
  const req = drawApiRequest(ctx.c, fam, rng);
  const estimate = (n: number) => Math.max(1, Math.round(n * w.estimateBias * rng.between(0.95, 1.05)));
  const plan: CallPlan = {
    model: ctx.c.api.families[fam]?.model ?? '',
    inputTokens: estimate(req.inputTokens),
    ...(req.prefixKey === undefined
      ? {}
      : { cachePrefixTokens: estimate(req.prefixTokens), cachePrefixKey: req.prefixKey }),
    maxTokens: req.maxTokens,
    // (A fast call is paced in its family's fast group, as the API limits it in a bucket of its own.)
    ...(req.fast ? { speed: 'fast' as const } : {}),
    tenant: '',
  };
  return { req, plan, attempts: 0, rateLimited: 0 };
}

function decision(outcome: 'overloaded' | 'rate_limited', retryAfterMs: number | null): Decision {
  return {
    outcome,
    retry: true,
    reason: outcome,
    statusCode: outcome === 'overloaded' ? 529 : 429,
    errorType: outcome === 'overloaded' ? 'overloaded_error' : 'rate_limit_error',
    errorCode: null,
    spendLimit: false,
    retryAfterMs,
    message: outcome,
    requestId: null,
    signals: null,
  };
}

/** One job: attempts until it succeeds, fails, or the condition ends. */
async function runJob(ctx: Ctx, acquire: Acquire, fam: number, job: Job, pool?: SlotPool) {
  while (!ctx.stopped) {
    const answer = await acquire(job.plan);
    if (ctx.stopped) return;
    if ('deferred' in answer) {
      ctx.handedBack += 1;
      await vsleep(ctx, answer.untilMs - Date.now());
      continue;
    }
    job.attempts += 1;
    const reply: Reply = ctx.model.send(job.req, Date.now());
    // (A fast call's signals are its `anthropic-fast-*` headers, as the provider parses them.)
    const signals = parseRateLimitHeaders(reply.headers, job.req.fast ? 'fast' : 'standard');
    if (reply.status === 200) {
      // The answer begins: its headers, then its first token (the worker relays each
      // content_block_delta as permit.observeFirstToken, worker/core.ts).
      const early = setTimeout(() => {
        answer.observeSignals(signals);
        answer.observeFirstToken?.();
      }, reply.ttftMs);
      await vsleep(ctx, reply.latencyMs);
      pool?.observe(reply.latencyMs);
      clearTimeout(early);
      ctx.model.finish(reply.id, Date.now());
      const u = reply.usage;
      await answer.settle({
        outcome: 'success',
        signals,
        retryAfterMs: null,
        inputTokens: u.input_tokens,
        outputTokens: u.output_tokens,
        cacheCreationInputTokens: u.cache_creation_input_tokens,
        cacheReadInputTokens: u.cache_read_input_tokens,
      });
      ctx.jobs += 1;
      return;
    }
    await vsleep(ctx, reply.latencyMs);
    const outcome = reply.status === 429 ? 'rate_limited' : 'overloaded';
    const retryAfterMs = parseRetryAfter(reply.headers, Date.now());
    await answer.settle({ outcome, signals, retryAfterMs });
    if (outcome === 'rate_limited') {
      job.rateLimited += 1;
      if (job.rateLimited > maxRateLimited) {
        ctx.failedRl += 1;
        return;
      }
      continue;
    }
    const tries = job.attempts - job.rateLimited;
    if (tries >= maxAttempts) {
      ctx.failedOverload += 1;
      return;
    }
    // Retried after the worker's backoff as a delayed job: the slot takes another meanwhile.
    setTimeout(() => ctx.retries[fam]?.push(job), backoffMs(decision(outcome, retryAfterMs), tries));
    return;
  }
}

function summarize(ctx: Ctx, vt: VirtualTime, virtualMs: number, realMs: number): ConditionResult {
  const { c, model } = ctx;
  const ideal = idealRun(c, virtualMs);
  const sets = utilisationVsIdeal(c, model, ideal, virtualMs);
  const sum = (k: 'arrivals' | 'refused429' | 'refused529' | 'arrivalsMeasured' | 'refused429Measured') =>
    model.sets.reduce((t, s) => t + s.counters[k], 0);
  const steady = sum('arrivalsMeasured');
  const arrivals = sum('arrivals');
  const refused429 = sum('refused429');
  const refused529 = sum('refused529');
  return {
    id: c.id,
    // (No set the ideal client used in the measured interval: nothing to compare with.)
    utilisation: sets.length === 0 ? null : Math.min(...sets.map((s) => s.utilisation)),
    sets,
    arrivals,
    refused429,
    refused529,
    share429: arrivals === 0 ? 0 : refused429 / arrivals,
    share429Steady: steady === 0 ? 0 : sum('refused429Measured') / steady,
    wasted: refused429 + refused529,
    failedForRateLimits: ctx.failedRl,
    failedForOverload: ctx.failedOverload,
    handedBack: ctx.handedBack,
    ...(ctx.peakSlots !== undefined ? { peakSlots: ctx.peakSlots } : {}),
    overloadRecoveryMs: overloadRecovery(c, model, virtualMs),
    virtualMs,
    stalled: virtualMs < c.durationMs,
    realMs,
    steps: vt.steps,
    firings: vt.firings,
  };
}

/** {@link ConditionResult.overloadRecoveryMs}: bursts that ended 10 s or more before the run did. */
function overloadRecovery(c: Condition, model: ApiModel, virtualMs: number): number | null {
  let worst: number | null = null;
  c.api.overload.forEach((o, i) => {
    const end = o.startMs + o.durationMs;
    if (virtualMs - end < 10_000) return;
    const ms = model.recoveredAfterMs[i] ?? virtualMs - end;
    worst = Math.max(worst ?? 0, ms);
  });
  return worst;
}
