/**
 * The limiter's shared state: one Redis hash per (account, model group), changed only by the Lua
 * scripts in store/lua/limiter-*.lua, so any number of worker processes on any number of machines
 * admit requests from one set of token buckets. Nothing here is a lease: a worker that dies holds no capacity (a
 * discovery request expires by itself).
 *
 * Hash fields (all optional):
 *   {b}_limit   per-minute limit of bucket b, from headers (capped by a ceiling)
 *   {b}_level   tokens available at `ts` (may be negative: debt after an oversized request)
 *   ts          ms of the last refill
 *   factor      pace multiplier (multiplicative decrease on 429, additive recovery on success up to
 *               1; above 1, or below, as the trend of the answers' remainders says: headers that
 *               understate or overstate; pace_ref_at, pace_ref_e, pace_ref_b: that trend's reference
 *               point, lua/include/limiter-learn-headers.lua)
 *   burst_ms    bucket capacity in ms of refill (shrinks when 429s come while the model had room:
 *               a hidden short-interval limit)
 *   paused_until, pause_reason   the group sends nothing until then
 *   overload_streak             consecutive 529s (exponential group backoff)
 *   probe_until                 the discovery request's deadline: while the group's limits are
 *                               unknown, one request at a time until the first headers arrive (the
 *                               stored name predates the word: two versions share it in a deploy);
 *                               after an overload pause (pause_reason overloaded), the overload
 *                               probe's: one request tries the API until its answer begins
 *   headerless                  the API answers without rate-limit headers: the request limit is learned
 *   learned                     req_limit is learned, not announced (slow_start, ok_since, ok_count,
 *                               learn_hold_until: the learning's state; limiter-settle-1.lua)
 *   in_ratio                    real input tokens (cached or not) / local estimate (EWMA)
 *   ok_since, ok_count          successes since then (every group; the last window's worth)
 *   last_429                    the end of the last 429 episode's pause (announced limits)
 *   caution_until               429 episodes came close together: recover slowly until then
 *   expires_at                  when the hash expires (ms): a settle renews it (PEXPIRE, a day)
 *                               only once less than half a day is left
 *
 * The buckets are the rate-limited resources (core/rate-limits.ts: `requests`, `input_tokens`,
 * `output_tokens`); the scripts and the hash call them by short names ({@link bucketName}: `req`,
 * `in`, `out`). Those names stop at this file: what it exports speaks of resources.
 */
import { type Resource, resources } from '../core/rate-limits.js';
import type { LimiterTuning } from '../core/settings.js';
import type { RedisConnection as Redis } from '../store/connection.js';
import {
  admitScript,
  type HeaderArgs,
  observeScript,
  type PerBucket,
  readGroup,
  settleScript,
  shareRefundScript,
} from '../store/limiter-scripts.js';

/** Each resource's bucket as the Lua scripts and the group hash name it (`{b}_limit`, `costReq`, …). */
const bucketName = { requests: 'req', input_tokens: 'in', output_tokens: 'out' } as const satisfies Record<
  Resource,
  string
>;
type BucketName = (typeof bucketName)[Resource];
const resourceOf = Object.fromEntries(resources.map((r) => [bucketName[r], r])) as Record<
  BucketName,
  Resource
>;

/**
 * `discovery`: admitted as the group's one discovery request (its limits are unknown); `discovering`:
 * another call's discovery request is out. `probe`: admitted as the one request that tries the API
 * after an overload (529) pause; `probing`: another call's probe is out. `quota`: the group has room (or not), but the call's
 * tenant's share of it has none.
 */
export type AdmitState =
  | 'ok'
  | 'discovery'
  | 'probe'
  | 'paused'
  | 'pacing'
  | 'discovering'
  | 'probing'
  | 'quota';

/** A tenant's share of a group's limits: its buckets' key (`Keyspace.limiterShare`, store/keys.ts) and the fraction. */
export interface ShareBuckets {
  key: string;
  /** (0, 1]. */
  share: number;
}

/** What a call takes from each bucket. */
export type Costs = Record<Resource, number>;

/** A view of one group's state (metrics, logs, tests). */
export interface GroupState {
  limits: Partial<Record<Resource, number>>;
  levels: Partial<Record<Resource, number>>;
  factor: number;
  burstMs: number;
  pausedUntil: number;
  pauseReason: string | null;
  inRatio: number;
  headerless: boolean;
  /** `limits.requests` was learned from 429s (header-less endpoint), not announced. */
  learned: boolean;
}

/** What a response's rate-limit headers say, and the configured ceilings (0: none). */
export interface HeaderObservation {
  limits: Record<Resource, number | undefined>;
  remaining: Record<Resource, number | undefined>;
  ceilings: Record<Resource, number>;
  /**
   * What the API's bucket has shown it holds: a remainder above zero (its lower end) plus the charge
   * of the request it answered (the API charges before it answers). Learned for output tokens
   * (lua/include/limiter-bucket.lua).
   */
  held?: Partial<Record<Resource, number>> | undefined;
  /** When the answer carrying them began (ms): the remainders are as of then (default: when learned). */
  at?: number | undefined;
  /** The answered call's cost. */
  charge?: Costs | undefined;
  /** The group's levels right after the answered call was admitted (what the remainders are compared with). */
  admitted?: Partial<Costs> | undefined;
  /** When the answered call was admitted (ms). */
  admittedAt?: number | undefined;
}

/** What an admission found: `levels` after the charge when admitted with known limits. */
export interface AdmitResult {
  waitMs: number;
  state: AdmitState;
  resource?: Resource;
  levels?: Partial<Costs>;
}

/** A value per resource → the scripts' triple (requests, input, output tokens). */
function perBucket<T>(v: Record<Resource, T>, n: (x: T) => number): PerBucket {
  return [n(v.requests), n(v.input_tokens), n(v.output_tokens)];
}

function headerArgs(observation: HeaderObservation): HeaderArgs {
  const sent = (v: number | undefined) => (v === undefined ? -1 : v);
  return {
    limit: perBucket(observation.limits, sent),
    remaining: perBucket(observation.remaining, sent),
    ceiling: perBucket(observation.ceilings, Number),
    held: perBucket({ requests: -1, input_tokens: -1, output_tokens: -1, ...observation.held }, Number),
    at: observation.at,
    charge: observation.charge && perBucket(observation.charge, Number),
    admitted: observation.admitted && [
      observation.admitted.requests ?? null,
      observation.admitted.input_tokens ?? null,
      observation.admitted.output_tokens ?? null,
    ],
    admittedAt: observation.admittedAt,
  };
}

/** The scripts' "req,in,out" ('' where none; the order of `resources`) → the limits known before. */
function limitsBefore(before: string): Partial<Record<Resource, number>> {
  const out: Partial<Record<Resource, number>> = {};
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

  /** `tuning`: `config.limiter.tuning` (core/settings.ts says what each number does). */
  constructor(redis: Redis, tuning: LimiterTuning) {
    this.#redis = redis;
    this.#tuning = tuning;
  }

  get tuning(): LimiterTuning {
    return this.#tuning;
  }

  /**
   * Take the costs from the group's buckets and, with `share`, from the tenant's share buckets of
   * the group — both or neither. `resource` names the share bucket that was short when the state
   * is `quota`.
   */
  async admit(key: string, costs: Costs, now = Date.now(), share?: ShareBuckets): Promise<AdmitResult> {
    const [wait, state, resource, ...after] = await admitScript(
      this.#redis,
      // Without a share the second key is the group's own (same slot; the script leaves it alone).
      { group: key, share: share?.key ?? key },
      { now, cost: perBucket(costs, Number), share: share?.share ?? 0, tuning: this.#tuning },
    );
    const out: AdmitResult = { waitMs: Number(wait), state: state as AdmitState };
    if (resource) out.resource = resourceOf[resource as BucketName];
    const levels: Partial<Costs> = {};
    after.forEach((v, i) => {
      const r = resources[i];
      if (r && v !== undefined && v !== '') levels[r] = Number(v);
    });
    if (Object.keys(levels).length > 0) out.levels = levels;
    return out;
  }

  /** Give back to a tenant's share buckets what a call did not use (the group's refund, same amounts). */
  async refundShare(shareKey: string, inputTokens: number, outputTokens: number): Promise<void> {
    if (inputTokens === 0 && outputTokens === 0) return;
    await shareRefundScript(this.#redis, { share: shareKey }, { refund: [inputTokens, outputTokens] });
  }

  /** Returns the limits known before this observation. */
  async observe(
    key: string,
    limits: Record<Resource, number | undefined>,
    remaining: Record<Resource, number | undefined>,
    ceilings: Record<Resource, number>,
    now = Date.now(),
    held?: HeaderObservation['held'],
    at?: number,
    charge?: Costs,
    admitted?: { levels: Partial<Costs> | undefined; at: number },
  ): Promise<Partial<Record<Resource, number>>> {
    const headers = headerArgs({
      limits,
      remaining,
      ceilings,
      held,
      at,
      charge,
      admitted: admitted?.levels,
      admittedAt: admitted?.at,
    });
    const before = await observeScript(this.#redis, { group: key }, { now, headers, tuning: this.#tuning });
    return limitsBefore(before);
  }

  /**
   * The discovery request's answer began without rate-limit headers: while the group knows no limit,
   * its request limit is learned from now on (lua/include/limiter-learn-limit.lua) instead of when
   * that call ends.
   * The overload probe's answer began: the overload is over (the group's other calls go).
   */
  async answerBegan(key: string, now = Date.now()): Promise<void> {
    const unknown = { requests: undefined, input_tokens: undefined, output_tokens: undefined };
    const headers = headerArgs({
      limits: unknown,
      remaining: unknown,
      ceilings: { requests: 0, input_tokens: 0, output_tokens: 0 },
    });
    await observeScript(this.#redis, { group: key }, { now, headers, answered: true, tuning: this.#tuning });
  }

  async settle(
    key: string,
    answer: {
      outcome: 'success' | 'rate_limited' | 'overloaded' | 'other';
      /** Input tokens given back to the group's bucket (what the call did not use). */
      refundInputTokens: number;
      /** Requests given back (1: the API did not count the call, a 404 for a model it has not). */
      refundRequests?: number;
      refundOutputTokens: number;
      retryAfterMs: number | null;
      inRatioSample: number | null;
      /** The answer carried rate-limit headers; `null`: there was no answer (network error). */
      headersSeen: boolean | null;
      /** Admitted as the discovery request (limits unknown). */
      discovery?: boolean;
      /** Admitted as the overload probe (the first request after a 529 pause). */
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
    limitsBefore?: Partial<Record<Resource, number>>;
  }> {
    const [paused, factor, before] = await settleScript(
      this.#redis,
      { group: key },
      {
        now,
        outcome: answer.outcome,
        refund: [answer.refundRequests ?? 0, answer.refundInputTokens, answer.refundOutputTokens],
        retryAfterMs: answer.retryAfterMs ?? -1,
        jitter: random(),
        inRatioSample: answer.inRatioSample ?? -1,
        headersSeen: answer.headersSeen === null ? -1 : answer.headersSeen ? 1 : 0,
        discovery: answer.discovery === true,
        probe: answer.probe === true,
        headers: answer.headers ? headerArgs(answer.headers) : undefined,
        tuning: this.#tuning,
      },
    );
    return {
      pausedUntil: Number(paused),
      factor: Number(factor),
      ...(answer.headers ? { limitsBefore: limitsBefore(before) } : {}),
    };
  }

  async read(key: string): Promise<GroupState> {
    const h = await readGroup(this.#redis, key);
    const num = (v: string | undefined) => (v === undefined ? undefined : Number(v));
    const limits: GroupState['limits'] = {};
    const levels: GroupState['levels'] = {};
    for (const r of resources) {
      const l = num(h[`${bucketName[r]}_limit`]);
      if (l !== undefined) limits[r] = l;
      const v = num(h[`${bucketName[r]}_level`]);
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
