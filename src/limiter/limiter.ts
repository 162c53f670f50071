/**
 * The adaptive limiter in the call path. Every API attempt acquires a permit before it is sent and
 * settles it with what the API answered:
 *
 * - **Header-driven pacing.** Limits are discovered from `anthropic-ratelimit-*` headers (one probe
 *   request per model group until the first headers arrive; no configuration needed). Each resource
 *   (requests, input tokens, output tokens) is a token bucket refilled at limit/60 s, with a capacity
 *   of about one second of refill, so requests are spread evenly and no burst of a minute's
 *   allowance is ever sent (Anthropic may enforce per-minute limits over shorter intervals).
 * - **Token-aware admission.** A request costs 1 request, its estimated input tokens (corrected by
 *   the observed ratio of real to estimated tokens) and `max_tokens` output tokens; the difference
 *   to the real usage is given back when it finishes.
 * - **Shared.** The buckets live in Redis ({@link SharedLimiterState}, atomic Lua), so every worker
 *   process using the same API key draws from one allowance.
 * - **Backoff.** A 429 pauses the whole group until `retry-after`, lowers the pace
 *   (multiplicative decrease) and the burst size; successes recover both additively. A 529 pauses
 *   the group with jittered exponential backoff.
 *
 * Bottleneck orders the waiting requests of a process (by priority) and lets one at a time ask Redis
 * for admission, so a process never hammers Redis while it waits.
 */
import { createHash } from 'node:crypto';
import Bottleneck from 'bottleneck';
import type { Outcome } from '../anthropic/classify.js';
import { defaults } from '../core/config.js';
import { cacheReadsCountTowardItpm, modelGroup } from '../core/models.js';
import type { RedisConnection as Redis } from '../store/connection.js';
import { limiterKey } from '../store/keys.js';
import { parseRateLimitHeaders, type RateLimitSnapshot } from './headers.js';
import {
  type AdmitState,
  type BucketTuning,
  type Costs,
  type GroupState,
  type LimiterResource,
  SharedLimiterState,
} from './shared-state.js';

/** What an attempt is about to spend. */
export interface CallPlan {
  model: string;
  /** Local estimate of input tokens (the whole prompt, cached or not). */
  inputTokens: number;
  /** Of those, the estimated cacheable prefix (up to the last `cache_control`). @defaultValue 0 */
  cachePrefixTokens?: number;
  /** A fingerprint of that prefix (the cache hits only an identical prefix). */
  cachePrefixKey?: string;
  maxTokens: number;
  tenant: string;
  /** Job priority (1 = highest). */
  priority?: number;
}

/** What the API answered. */
export interface CallResult {
  outcome: Outcome;
  headers: Headers | null;
  retryAfterMs: number | null;
  /** Real usage, when the call succeeded (`input_tokens`: the uncached input only). */
  inputTokens?: number;
  outputTokens?: number;
  cacheCreationInputTokens?: number;
  cacheReadInputTokens?: number;
}

/**
 * No permit soon: the group is paused, or enough calls of this process already wait for it. The
 * caller hands the job back until `untilMs` instead of holding a worker slot that a call of another
 * group (or a job of higher priority) could use.
 */
export interface Deferral {
  deferred: true;
  /** When to ask again (epoch ms): the group's estimated permit time. */
  untilMs: number;
  reason: 'paused' | 'pacing' | 'queued';
}

/** Options of {@link RateLimiter.acquire}. */
export interface AcquireOptions {
  /**
   * May answer with a {@link Deferral} instead of waiting longer than `holdMs` (tuning) for a
   * permit. @defaultValue `false`
   */
  mayDefer?: boolean;
}

export interface Permit {
  /** The response headers, as soon as they arrive (before the body streams). */
  observeHeaders(headers: Headers): void;
  /** Report the answer. Idempotent. */
  settle(result: CallResult): Promise<void>;
}

/** Optional ceilings below the account's limits (leave room for others on the same key). */
export interface LimitCeilings {
  rpm?: number | undefined;
  itpm?: number | undefined;
  otpm?: number | undefined;
}

export interface LimiterOptions {
  /** Redis holding the shared buckets. */
  redis: Redis;
  /** Separates accounts: a fingerprint of the API key (never the key itself) or a fixed name. */
  account: string;
  /** Hash-tag the group keys for Redis Cluster (store/keys.ts). @defaultValue `false` */
  hashTag?: boolean;
  ceilings?: LimitCeilings;
  tuning?: Partial<BucketTuning>;
  /** Called with every parsed header snapshot (metrics). */
  onHeaders?: (group: string, snapshot: RateLimitSnapshot) => void;
  /** Called when a group is paused (429/529), with the reason and how long. */
  onPause?: (group: string, reason: string, ms: number) => void;
  /** Called when limits are discovered or change. */
  onLimits?: (
    group: string,
    limits: Partial<Record<LimiterResource, number>>,
    before: Partial<Record<LimiterResource, number>>,
  ) => void;
  /** Called after every settle with the group's pace multiplier. */
  onPace?: (group: string, factor: number) => void;
}

/** A short, one-way fingerprint of an API key: separates accounts in Redis without storing the key. */
export function accountFingerprint(apiKey: string | undefined): string {
  if (!apiKey) return 'default';
  return createHash('sha256').update(`promptq:${apiKey}`).digest('hex').slice(0, 12);
}

function bottleneckPriority(priority: number | undefined): number {
  if (priority === undefined) return 5;
  if (priority <= 10) return 2;
  if (priority <= 100) return 5;
  return 8;
}

/** Token remainders are rounded down to thousands: the true value may be up to 999 more. */
function remainingUpper(r: number | undefined, tokens: boolean): number | undefined {
  if (r === undefined) return undefined;
  return tokens && r % 1000 === 0 ? r + 999 : r;
}

const abortError = (signal: AbortSignal) => signal.reason ?? new Error('aborted');

export class RateLimiter {
  readonly #o: LimiterOptions;
  readonly #state: SharedLimiterState;
  readonly #gates = new Map<string, Bottleneck>();
  /**
   * Per group: the priorities of this process's calls waiting in its gate, and when the next call
   * this process defers should come back (spaced one call's interval apart, so deferred jobs
   * return about when the group can take them instead of all at once).
   */
  /** Cacheable prefixes (group:fingerprint) → until when the API keeps them cached, oldest first. */
  readonly #cached = new Map<string, number>();
  /** Cacheable prefixes whose first call (a cache write) is out → settled. */
  readonly #writing = new Map<string, Promise<void>>();
  readonly #local = new Map<string, { parked: number[]; nextBackAt: number }>();
  /** When each group last asked for a permit (ms): idle groups are dropped. */
  readonly #lastUsed = new Map<string, number>();
  readonly #ceilings: Record<LimiterResource, number>;
  #closed = false;

  constructor(opts: LimiterOptions) {
    this.#o = opts;
    this.#state = new SharedLimiterState(opts.redis, opts.tuning);
    const c = opts.ceilings ?? {};
    this.#ceilings = { req: c.rpm ?? 0, in: c.itpm ?? 0, out: c.otpm ?? 0 };
  }

  /** The Redis key of a model group's shared state. */
  key(group: string): string {
    return limiterKey(this.#o.account, group, { hashTag: this.#o.hashTag ?? false });
  }

  get state(): SharedLimiterState {
    return this.#state;
  }

  #gate(group: string): Bottleneck {
    let g = this.#gates.get(group);
    if (!g) {
      g = new Bottleneck({ maxConcurrent: 1 });
      this.#gates.set(group, g);
    }
    this.#lastUsed.set(group, Date.now());
    return g;
  }

  /**
   * Forget groups this process has not used for {@link defaults.limiterIdleGroupMs} and has nothing waiting in:
   * their gates leave memory and {@link requestRate} stops reading them.
   */
  #dropIdleGroups(now = Date.now()): void {
    for (const [group, g] of this.#gates) {
      const c = g.counts();
      const busy = c.RECEIVED + c.QUEUED + c.RUNNING + c.EXECUTING > 0;
      if (!busy && now - (this.#lastUsed.get(group) ?? 0) > defaults.limiterIdleGroupMs) {
        this.#gates.delete(group);
        this.#lastUsed.delete(group);
        this.#local.delete(group);
      }
    }
  }

  /** Groups this process holds a gate for (tests). */
  get groupsInUse(): number {
    return this.#gates.size;
  }

  /**
   * Wait until the shared buckets admit this call, then hand out a permit. With `mayDefer`, answer
   * with a {@link Deferral} when the permit is further away than `holdMs`: the group is paused, its
   * next permit is that far, or this process already has `holdMs` worth of calls waiting for it
   * (unless this call's priority beats one of theirs).
   */
  async acquire(plan: CallPlan, signal?: AbortSignal): Promise<Permit>;
  async acquire(
    plan: CallPlan,
    signal: AbortSignal | undefined,
    opts: AcquireOptions,
  ): Promise<Permit | Deferral>;
  async acquire(plan: CallPlan, signal?: AbortSignal, opts: AcquireOptions = {}): Promise<Permit | Deferral> {
    const group = modelGroup(plan.model);
    const key = this.key(group);
    const st = await this.#state.read(key);
    // What the API will count toward ITPM: uncached input and cache writes; cache reads only on
    // models where they count. The cacheable prefix is charged at the share lately written.
    // The prefix is free when the API answered with it lately (a read), else it is a write.
    const readsCount = cacheReadsCountTowardItpm(plan.model);
    const cacheKey = plan.cachePrefixKey === undefined ? undefined : `${group}:${plan.cachePrefixKey}`;
    // While this process's first call with the prefix is out, wait for it (at most holdMs): its
    // answer makes the prefix a cheap read for the others instead of as many writes.
    const writing = cacheKey === undefined ? undefined : this.#writing.get(cacheKey);
    if (writing) await Promise.race([writing, sleep(this.#state.tuning.holdMs, signal)]);
    const cached = !readsCount && cacheKey !== undefined && (this.#cached.get(cacheKey) ?? 0) > Date.now();
    const prefix = cached ? Math.min(plan.cachePrefixTokens ?? 0, plan.inputTokens) : 0;
    const estimate = plan.inputTokens - prefix;
    const costs = { req: 1, in: Math.max(1, Math.round(estimate * st.inRatio)), out: plan.maxTokens };
    const priority = bottleneckPriority(plan.priority);
    const hold = this.#state.tuning.holdMs;
    const mayDefer = opts.mayDefer === true;
    const local = this.#localOf(group);
    const parked = local.parked;
    if (mayDefer) {
      const now = Date.now();
      if (st.pausedUntil - now > hold) return deferral(st.pausedUntil, 'paused');
      // Calls of this process already waiting for the group, one call's interval apart. (While
      // the limits are unknown every call waits: the probe's answer usually comes within one call.)
      // A learned limit (no headers) is still being probed upward: its interval says little about
      // the next seconds, so its calls wait as in discovery.
      const interval = st.learned ? null : callIntervalMs(st, costs, this.#state.tuning.target);
      const room = interval === null ? Number.POSITIVE_INFINITY : Math.max(1, Math.ceil(hold / interval));
      if (interval !== null && parked.length >= room && !parked.some((p) => p > priority)) {
        // Past maxDeferMs the cursor starts over (still spaced): the interval may shrink meanwhile.
        const first = now + Math.max(hold, parked.length * interval);
        local.nextBackAt = Math.max(local.nextBackAt, first);
        if (local.nextBackAt > now + this.#state.tuning.maxDeferMs) local.nextBackAt = first;
        const untilMs = local.nextBackAt;
        local.nextBackAt += interval;
        return deferral(untilMs, 'queued');
      }
    }
    parked.push(priority);
    let admitted: AdmitState | Deferral;
    try {
      admitted = await this.#gate(group).schedule({ priority }, async () => {
        for (;;) {
          if (this.#closed) throw new Error('limiter closed');
          if (signal?.aborted) throw abortError(signal);
          const { waitMs, state } = await this.#state.admit(key, costs);
          if (waitMs <= 0) return state;
          // (Not while discovering: the probe's answer usually comes long before its lifetime ends.)
          if (mayDefer && waitMs > hold && state !== 'discovering') {
            return deferral(Date.now() + waitMs, state === 'paused' ? 'paused' : 'pacing');
          }
          // While the probe is out, look again soon: its headers end the discovery at once.
          const cap = state === 'discovering' ? 50 : 1000;
          await sleep(Math.min(Math.max(waitMs, 1), cap), signal);
        }
      });
    } finally {
      parked.splice(parked.indexOf(priority), 1);
    }
    if (typeof admitted !== 'string') return admitted;
    let wrote: (() => void) | undefined;
    if (!cached && !readsCount && cacheKey !== undefined && !this.#writing.has(cacheKey)) {
      this.#writing.set(cacheKey, new Promise<void>((resolve) => (wrote = resolve)));
    }
    const permit = this.#permit(group, key, plan, costs, admitted === 'probe', readsCount, cacheKey);
    if (!wrote || cacheKey === undefined) return permit;
    const done = wrote;
    return {
      observeHeaders: (h) => permit.observeHeaders(h),
      settle: async (result) => {
        try {
          await permit.settle(result);
        } finally {
          this.#writing.delete(cacheKey);
          done();
        }
      },
    };
  }

  /** The API wrote or read this prefix just now: it stays cached for the cache lifetime. */
  #rememberCached(key: string): void {
    const t = this.#state.tuning;
    this.#cached.delete(key);
    this.#cached.set(key, Date.now() + t.cacheTtlMs);
    if (this.#cached.size > t.cachePrefixesKept) {
      const oldest = this.#cached.keys().next().value;
      if (oldest !== undefined) this.#cached.delete(oldest);
    }
  }

  #localOf(group: string): { parked: number[]; nextBackAt: number } {
    let l = this.#local.get(group);
    if (!l) {
      l = { parked: [], nextBackAt: 0 };
      this.#local.set(group, l);
    }
    return l;
  }

  #permit(
    group: string,
    key: string,
    plan: CallPlan,
    costs: { req: number; in: number; out: number },
    probe: boolean,
    cacheReadsCount: boolean,
    cacheKey: string | undefined,
  ): Permit {
    let headersSeen: Promise<void> | undefined;
    let settled = false;
    const observe = (headers: Headers) => {
      headersSeen ??= this.#observe(group, key, headers).catch(() => {});
      return headersSeen;
    };
    return {
      observeHeaders: (headers) => {
        void observe(headers);
      },
      settle: async (result) => {
        if (settled) return;
        settled = true;
        const pausing = result.outcome === 'rate_limited' || result.outcome === 'overloaded';
        // Learn the limits first on success; on a 429/529 pause first, so that the discovery probe's
        // end cannot let another request slip in before the pause is set.
        if (result.headers && !pausing) await observe(result.headers);
        const ok = result.outcome === 'success';
        const outcome: 'success' | 'rate_limited' | 'overloaded' | 'other' =
          result.outcome === 'success' || result.outcome === 'rate_limited' || result.outcome === 'overloaded'
            ? result.outcome
            : 'other';
        const written = result.cacheCreationInputTokens ?? 0;
        const read = result.cacheReadInputTokens ?? 0;
        const billedIn =
          result.inputTokens === undefined
            ? undefined
            : result.inputTokens + written + (cacheReadsCount ? read : 0);
        const refundIn = ok && billedIn !== undefined ? costs.in - billedIn : 0;
        // A failed call produced no output: give all of max_tokens back.
        const refundOut =
          ok && result.outputTokens !== undefined ? costs.out - result.outputTokens : costs.out;
        // The estimate covers the whole prompt: compare it with all of the prompt's tokens.
        const sample =
          ok && result.inputTokens !== undefined && plan.inputTokens > 0
            ? (result.inputTokens + written + read) / plan.inputTokens
            : null;
        if (ok && cacheKey !== undefined && written + read > 0) this.#rememberCached(cacheKey);
        // Did the API's answer carry rate-limit headers? (null: there was no answer.)
        const rateHeaders = result.headers
          ? Object.keys(parseRateLimitHeaders(result.headers)).length > 0
          : null;
        const { pausedUntil, factor } = await this.#state.settle(key, {
          outcome,
          refundIn: outcome === 'rate_limited' ? 0 : refundIn,
          refundOut: outcome === 'rate_limited' ? 0 : refundOut,
          retryAfterMs: result.retryAfterMs,
          inRatioSample: sample,
          headersSeen: rateHeaders,
          probe,
        });
        if (result.headers && pausing) await observe(result.headers);
        this.#o.onPace?.(group, factor);
        if (outcome === 'rate_limited' || outcome === 'overloaded') {
          const ms = pausedUntil - Date.now();
          if (ms > 0) this.#o.onPause?.(group, outcome, ms);
        }
      },
    };
  }

  async #observe(group: string, key: string, headers: Headers): Promise<void> {
    const snap = parseRateLimitHeaders(headers);
    if (Object.keys(snap).length === 0) return;
    this.#o.onHeaders?.(group, snap);
    const limits = {
      req: snap.requests?.limit,
      in: snap.input_tokens?.limit,
      out: snap.output_tokens?.limit,
    };
    const remaining = {
      req: remainingUpper(snap.requests?.remaining, false),
      in: remainingUpper(snap.input_tokens?.remaining, true),
      out: remainingUpper(snap.output_tokens?.remaining, true),
    };
    const before = await this.#state.observe(key, limits, remaining, this.#ceilings);
    const now: Partial<Record<LimiterResource, number>> = {};
    let changed = false;
    for (const r of ['req', 'in', 'out'] as const) {
      const l = limits[r];
      if (l === undefined) continue;
      const effective = this.#ceilings[r] > 0 ? Math.min(l, this.#ceilings[r]) : l;
      now[r] = effective;
      if (before[r] !== effective) changed = true;
    }
    if (changed) this.#o.onLimits?.(group, now, before);
  }

  /**
   * Requests per second the groups this process has used may take (sum of the discovered request
   * limits at the current pace); 0 while nothing is known.
   */
  async requestRate(): Promise<number> {
    this.#dropIdleGroups();
    let rps = 0;
    for (const group of this.#gates.keys()) {
      const st = await this.#state.read(this.key(group));
      if (st.limits.req) rps += (st.limits.req * st.factor * this.#state.tuning.target) / 60;
    }
    return rps;
  }

  /** Stop: pending acquisitions are rejected. */
  async close(): Promise<void> {
    this.#closed = true;
    await Promise.all([...this.#gates.values()].map((g) => g.stop({ dropWaitingJobs: true })));
    this.#gates.clear();
  }
}

function deferral(untilMs: number, reason: Deferral['reason']): Deferral {
  return { deferred: true, untilMs, reason };
}

/**
 * Milliseconds between two calls like this one at the group's pace (the slowest of its known
 * limits); `null` while no limit is known.
 */
function callIntervalMs(st: GroupState, costs: Costs, target: number): number | null {
  let ms: number | null = null;
  for (const r of ['req', 'in', 'out'] as const) {
    const limit = st.limits[r];
    if (limit) ms = Math.max(ms ?? 0, (costs[r] * 60_000) / (limit * st.factor * target));
  }
  return ms;
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(abortError(signal));
      return;
    }
    const t = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(t);
      reject(abortError(signal!));
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
