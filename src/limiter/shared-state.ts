/**
 * The limiter's shared state: one Redis hash per (account, model group), changed only by the Lua
 * scripts in store/lua/limiter-*.lua, so any number of worker processes on any number of machines
 * admit requests from one set of token buckets. Nothing here is a lease: a worker that dies holds no capacity (a
 * discovery probe expires by itself).
 *
 * Hash fields (all optional):
 *   {r}_limit   per-minute limit of resource r (req, in, out), from headers (capped by a ceiling)
 *   {r}_level   tokens available at `ts` (may be negative: debt after an oversized request)
 *   ts          ms of the last refill
 *   factor      pace multiplier (multiplicative decrease on 429, additive recovery on success)
 *   burst_ms    bucket capacity in ms of refill (shrinks when 429s come while the model had room:
 *               a hidden short-interval limit)
 *   paused_until, pause_reason   the group sends nothing until then
 *   overload_streak             consecutive 529s (exponential group backoff)
 *   probe_until                 discovery: one request at a time until the first headers arrive
 *   headerless                  the API answers without rate-limit headers: the request limit is learned
 *   learned                     req_limit is learned, not announced (slow_start, ok_since, ok_count,
 *                               learn_hold_until: the learning's state; limiter-settle-1.lua)
 *   in_ratio                    real input tokens (cached or not) / local estimate (EWMA)
 *   ok_since, ok_count          successes since then (every group; the last window's worth)
 *   last_429                    the end of the last 429 episode's pause (announced limits)
 *   caution_until               429 episodes came close together: recover slowly until then
 */
import type { LimiterTuning } from '../core/settings.js';
import type { RedisConnection as Redis } from '../store/connection.js';
import {
  admitScript,
  observeScript,
  readGroup,
  settleScript,
  shareRefundScript,
} from '../store/limiter-scripts.js';

const resources = ['req', 'in', 'out'] as const;
export type LimiterResource = (typeof resources)[number];

/** `quota`: the group has room (or not), but the call's tenant's share of it has none. */
export type AdmitState = 'ok' | 'probe' | 'paused' | 'pacing' | 'discovering' | 'quota';

/** A tenant's share of a group's limits: its buckets' key (keys.ts `limiterTenantKey`) and the fraction. */
export interface ShareBuckets {
  key: string;
  /** (0, 1]. */
  share: number;
}

export interface Costs {
  req: number;
  in: number;
  out: number;
}

/** A view of one group's state (metrics, logs, tests). */
export interface GroupState {
  limits: Partial<Record<LimiterResource, number>>;
  levels: Partial<Record<LimiterResource, number>>;
  factor: number;
  burstMs: number;
  pausedUntil: number;
  pauseReason: string | null;
  inRatio: number;
  headerless: boolean;
  /** `limits.req` was learned from 429s (header-less endpoint), not announced. */
  learned: boolean;
}

/** What a response's rate-limit headers say, and the configured ceilings (0: none). */
export interface HeaderObservation {
  limits: Record<LimiterResource, number | undefined>;
  remaining: Record<LimiterResource, number | undefined>;
  ceilings: Record<LimiterResource, number>;
}

const none = { req: undefined, in: undefined, out: undefined };
const noHeaders: HeaderObservation = { limits: none, remaining: none, ceilings: { req: 0, in: 0, out: 0 } };

function observeArgs(o: HeaderObservation) {
  const n = (v: number | undefined) => (v === undefined ? -1 : v);
  return {
    limitReq: n(o.limits.req),
    limitIn: n(o.limits.in),
    limitOut: n(o.limits.out),
    remainingReq: n(o.remaining.req),
    remainingIn: n(o.remaining.in),
    remainingOut: n(o.remaining.out),
    ceilingReq: o.ceilings.req,
    ceilingIn: o.ceilings.in,
    ceilingOut: o.ceilings.out,
  };
}

/** "req,in,out" ('' where none) → the limits known before. */
function limitsBefore(before: string): Partial<Record<LimiterResource, number>> {
  const out: Partial<Record<LimiterResource, number>> = {};
  before.split(',').forEach((v, i) => {
    const r = resources[i];
    if (r && v !== '') out[r] = Number(v);
  });
  return out;
}

/** Typed access to the scripts for one Redis connection. */
export class SharedLimiterState {
  readonly #redis: Redis;
  readonly #tuning: LimiterTuning;

  /** `tuning`: `config.limiter.tuning` (settings.ts says what each number does). */
  constructor(redis: Redis, tuning: LimiterTuning) {
    this.#redis = redis;
    this.#tuning = tuning;
  }

  get tuning(): LimiterTuning {
    return this.#tuning;
  }

  /**
   * Take the costs from the group's buckets and, with `share`, from the tenant's share buckets of
   * the group — both or neither. `resource` names the short share bucket when the state is `quota`.
   */
  async admit(
    key: string,
    costs: Costs,
    now = Date.now(),
    share?: ShareBuckets,
  ): Promise<{ waitMs: number; state: AdmitState; resource?: LimiterResource }> {
    const t = this.#tuning;
    const [wait, state, resource] = await admitScript(
      this.#redis,
      // Without a share the second key is the group's own (same slot; the script leaves it alone).
      { group: key, share: share?.key ?? key },
      {
        now,
        costReq: costs.req,
        costIn: costs.in,
        costOut: costs.out,
        target: t.target,
        burstMs: t.burstMs,
        probeTtlMs: t.probeTtlMs,
        reserveMs: t.reserveMs,
        share: share?.share ?? 0,
      },
    );
    const out = { waitMs: Number(wait), state: state as AdmitState };
    return resource === undefined ? out : { ...out, resource: resource as LimiterResource };
  }

  /** Give back to a tenant's share buckets what a call did not use (the group's refund, same amounts). */
  async refundShare(shareKey: string, refundIn: number, refundOut: number): Promise<void> {
    if (refundIn === 0 && refundOut === 0) return;
    await shareRefundScript(this.#redis, { share: shareKey }, { refundIn, refundOut });
  }

  /** Returns the limits known before this observation. */
  async observe(
    key: string,
    limits: Record<LimiterResource, number | undefined>,
    remaining: Record<LimiterResource, number | undefined>,
    ceilings: Record<LimiterResource, number>,
    now = Date.now(),
  ): Promise<Partial<Record<LimiterResource, number>>> {
    const before = await observeScript(
      this.#redis,
      { group: key },
      {
        now,
        ...observeArgs({ limits, remaining, ceilings }),
        target: this.#tuning.target,
        burstMs: this.#tuning.burstMs,
      },
    );
    return limitsBefore(before);
  }

  async settle(
    key: string,
    s: {
      outcome: 'success' | 'rate_limited' | 'overloaded' | 'other';
      refundIn: number;
      refundOut: number;
      retryAfterMs: number | null;
      inRatioSample: number | null;
      /** The answer carried rate-limit headers; `null`: there was no answer (network error). */
      headersSeen: boolean | null;
      /** Admitted as the discovery probe (limits unknown). */
      probe?: boolean;
      /** The answer's rate-limit headers, learned in the same script (as {@link observe} would). */
      headers?: HeaderObservation | undefined;
    },
    now = Date.now(),
    random: () => number = Math.random,
  ): Promise<{
    pausedUntil: number;
    factor: number;
    /** With `headers`: the limits known before they were learned. */
    limitsBefore?: Partial<Record<LimiterResource, number>>;
  }> {
    const t = this.#tuning;
    const [paused, factor, before] = await settleScript(
      this.#redis,
      { group: key },
      {
        now,
        outcome: s.outcome,
        refundIn: s.refundIn,
        refundOut: s.refundOut,
        retryAfterMs: s.retryAfterMs ?? -1,
        burstMs: t.burstMs,
        minFactor: t.minFactor,
        overloadBaseMs: t.overloadBaseMs,
        overloadMaxMs: t.overloadMaxMs,
        jitter: random(),
        inRatioSample: s.inRatioSample ?? -1,
        headersSeen: s.headersSeen === null ? -1 : s.headersSeen ? 1 : 0,
        probe: s.probe ? 1 : 0,
        recoveryStep: t.recoveryStep,
        burstRecoveryMs: t.burstRecoveryMs,
        decreaseFactor: t.decreaseFactor,
        burstDecrease: t.burstDecrease,
        minBurstMs: t.minBurstMs,
        pauseWithoutRetryAfterMs: t.pauseWithoutRetryAfterMs,
        inRatioWeight: t.inRatioWeight,
        learnStartRpm: t.learnStartRpm,
        learnSlowStartStep: t.learnSlowStartStep,
        learnStep: t.learnStep,
        learnDecrease: t.learnDecrease,
        learnWindowMs: t.learnWindowMs,
        observe: s.headers ? 1 : 0,
        ...observeArgs(s.headers ?? noHeaders),
        target: t.target,
        cautiousRecoveryStep: t.cautiousRecoveryStep,
        cautionMs: t.cautionMs,
      },
    );
    return {
      pausedUntil: Number(paused),
      factor: Number(factor),
      ...(s.headers ? { limitsBefore: limitsBefore(before) } : {}),
    };
  }

  async read(key: string): Promise<GroupState> {
    const h = await readGroup(this.#redis, key);
    const num = (v: string | undefined) => (v === undefined ? undefined : Number(v));
    const limits: GroupState['limits'] = {};
    const levels: GroupState['levels'] = {};
    for (const r of resources) {
      const l = num(h[`${r}_limit`]);
      if (l !== undefined) limits[r] = l;
      const v = num(h[`${r}_level`]);
      if (v !== undefined) levels[r] = v;
    }
    return {
      limits,
      levels,
      factor: num(h.factor) ?? 1,
      burstMs: num(h.burst_ms) ?? this.#tuning.burstMs,
      pausedUntil: num(h.paused_until) ?? 0,
      pauseReason: h.pause_reason ?? null,
      inRatio: num(h.in_ratio) ?? 1,
      headerless: h.headerless === '1',
      learned: h.learned === '1',
    };
  }
}
