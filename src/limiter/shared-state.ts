/**
 * The limiter's shared state: one Redis hash per (account, model group), changed only by the Lua
 * scripts below, so any number of worker processes on any number of machines admit requests from
 * one set of token buckets. Nothing here is a lease: a worker that dies holds no capacity (a
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
 *   headerless                  the API sends no rate-limit headers: admit freely, learn from 429s
 *   in_ratio                    real input tokens / local estimate (EWMA)
 */
import type { Redis } from 'ioredis';

const resources = ['req', 'in', 'out'] as const;
export type LimiterResource = (typeof resources)[number];

/**
 * Admit one request if every bucket can take it.
 * KEYS[1] group hash
 * ARGV[1] now (ms)  ARGV[2..4] cost req, in, out  ARGV[5] target utilisation (0..1]
 * ARGV[6] default burst ms  ARGV[7] probe ttl ms  ARGV[8] reserve ms
 * Returns {waitMs, state}: waitMs 0 → admitted (costs taken); state: ok | probe | headerless | paused | pacing | discovering
 */
const admitLua = `
local h = KEYS[1]
local now = tonumber(ARGV[1])
local cost = { tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4]) }
local target = tonumber(ARGV[5])
local names = { 'req', 'in', 'out' }
local st = redis.call('HMGET', h, 'paused_until', 'req_limit', 'in_limit', 'out_limit', 'req_level', 'in_level', 'out_level',
  'ts', 'factor', 'burst_ms', 'probe_until', 'headerless')
local paused = tonumber(st[1]) or 0
if paused > now then return { paused - now, 'paused' } end
local limits = { tonumber(st[2]), tonumber(st[3]), tonumber(st[4]) }
if not limits[1] and not limits[2] and not limits[3] then
  if st[12] == '1' then return { 0, 'headerless' } end
  local probe = tonumber(st[11]) or 0
  if probe > now then return { probe - now, 'discovering' } end
  redis.call('HSET', h, 'probe_until', now + tonumber(ARGV[7]))
  return { 0, 'probe' }
end
local ts = tonumber(st[8]) or now
local factor = tonumber(st[9]) or 1
local burst = tonumber(st[10]) or tonumber(ARGV[6])
local dt = math.max(0, now - ts)
local wait = 0
local levels = {}
for i = 1, 3 do
  local limit = limits[i]
  if limit and limit > 0 then
    local rate = limit * factor * target / 60000
    local cap = math.max(rate * burst, 1)
    local level = math.min(cap, (tonumber(st[4 + i]) or 0) + rate * dt)
    levels[i] = level
    -- Keep a reserve of reserve_ms of refill in the bucket: the API's bucket then always holds that
    -- much too, which absorbs the jitter between our admission and the request's arrival. It costs
    -- a one-time delay, not throughput. An oversized request (more than the bucket holds) goes once
    -- the bucket is full.
    local reserve = math.min(rate * tonumber(ARGV[8]), cap / 2)
    local need = math.min(cost[i], cap - reserve) + reserve
    if level < need then wait = math.max(wait, math.ceil((need - level) / rate)) end
  end
end
if wait > 0 then
  for i = 1, 3 do if levels[i] then redis.call('HSET', h, names[i] .. '_level', levels[i]) end end
  redis.call('HSET', h, 'ts', now)
  return { wait, 'pacing' }
end
for i = 1, 3 do if levels[i] then redis.call('HSET', h, names[i] .. '_level', levels[i] - cost[i]) end end
redis.call('HSET', h, 'ts', now)
return { 0, 'ok' }
`;

/**
 * Learn from a response's rate-limit headers.
 * KEYS[1] group hash
 * ARGV[1] now  ARGV[2..4] limit req,in,out (-1 = not sent)  ARGV[5..7] remaining req,in,out (-1 = not sent)
 * ARGV[8..10] ceilings req,in,out (0 = none)  ARGV[11] target  ARGV[12] default burst ms
 * Returns a string "old_req,old_in,old_out" of the limits before (to log discoveries and changes).
 */
const observeLua = `
local h = KEYS[1]
local now = tonumber(ARGV[1])
local names = { 'req', 'in', 'out' }
local before = {}
local any = false
local factor = tonumber(redis.call('HGET', h, 'factor')) or 1
local burst = tonumber(redis.call('HGET', h, 'burst_ms')) or tonumber(ARGV[12])
local ts = tonumber(redis.call('HGET', h, 'ts')) or now
local target = tonumber(ARGV[11])
for i = 1, 3 do
  local old = tonumber(redis.call('HGET', h, names[i] .. '_limit'))
  before[i] = old and tostring(old) or ''
  local limit = tonumber(ARGV[1 + i])
  local remaining = tonumber(ARGV[4 + i])
  local ceiling = tonumber(ARGV[7 + i])
  if limit >= 0 then
    any = true
    if ceiling > 0 and ceiling < limit then limit = ceiling end
    redis.call('HSET', h, names[i] .. '_limit', limit)
    if limit > 0 and remaining >= 0 then
      local rate = limit * factor * target / 60000
      local cap = math.max(rate * burst, 1)
      local level = tonumber(redis.call('HGET', h, names[i] .. '_level'))
      if level == nil then
        level = math.min(cap, remaining)
      else
        level = math.min(cap, level + rate * math.max(0, now - ts))
        -- The API's view wins when it has less: someone else shares the key. (Callers pass the
        -- upper end of a rounded remainder, so rounding alone never lowers the level.)
        if remaining < level then level = remaining end
      end
      redis.call('HSET', h, names[i] .. '_level', level)
    end
  end
end
if any then
  redis.call('HSET', h, 'ts', now)
  redis.call('HDEL', h, 'probe_until', 'headerless')
end
return table.concat(before, ',')
`;

/**
 * Settle one answered request.
 * KEYS[1] group hash
 * ARGV[1] now  ARGV[2] outcome (success | rate_limited | overloaded | other)
 * ARGV[3] refund in  ARGV[4] refund out (tokens to give back; negative = charge more)
 * ARGV[5] retry-after ms (-1 none)  ARGV[6] default burst ms  ARGV[7] min factor
 * ARGV[8] overload base ms  ARGV[9] overload max ms  ARGV[10] jitter 0..1  ARGV[11] in_ratio sample (-1 none)
 * ARGV[12] headers seen (1/0)  ARGV[13] the request was a discovery probe (1/0): a 429 then teaches
 *   nothing about pace (the limits were unknown), so it only pauses
 * Returns {pausedUntil, factor}
 */
const settleLua = `
local h = KEYS[1]
local now = tonumber(ARGV[1])
local outcome = ARGV[2]
local default_burst = tonumber(ARGV[6])
local factor = tonumber(redis.call('HGET', h, 'factor')) or 1
local burst = tonumber(redis.call('HGET', h, 'burst_ms')) or default_burst
local paused = tonumber(redis.call('HGET', h, 'paused_until')) or 0
local refund = { nil, tonumber(ARGV[3]), tonumber(ARGV[4]) }
local names = { 'req', 'in', 'out' }
for i = 2, 3 do
  if refund[i] ~= 0 and redis.call('HEXISTS', h, names[i] .. '_level') == 1 then
    redis.call('HINCRBYFLOAT', h, names[i] .. '_level', refund[i])
  end
end
if ARGV[12] == '0' and outcome == 'success' and redis.call('HEXISTS', h, 'req_limit') == 0
   and redis.call('HEXISTS', h, 'in_limit') == 0 and redis.call('HEXISTS', h, 'out_limit') == 0 then
  redis.call('HSET', h, 'headerless', '1')
end
redis.call('HDEL', h, 'probe_until')
if outcome == 'success' then
  factor = math.min(1, factor + 0.01)
  burst = math.min(default_burst, burst + 20)
  redis.call('HSET', h, 'overload_streak', 0)
  local sample = tonumber(ARGV[11])
  if sample > 0 then
    local r = tonumber(redis.call('HGET', h, 'in_ratio')) or sample
    redis.call('HSET', h, 'in_ratio', r * 0.8 + sample * 0.2)
  end
elseif outcome == 'rate_limited' then
  if ARGV[13] ~= '1' then
    factor = math.max(tonumber(ARGV[7]), factor * 0.8)
    burst = math.max(100, burst * 0.6)
  end
  local ra = tonumber(ARGV[5])
  if ra < 0 then ra = 1000 end
  if now + ra > paused then
    paused = now + ra
    redis.call('HSET', h, 'paused_until', paused, 'pause_reason', 'rate_limited')
  end
  -- What was sent while we thought there was room did not all land: start from empty.
  for i = 1, 3 do
    if redis.call('HEXISTS', h, names[i] .. '_level') == 1 then
      redis.call('HSET', h, names[i] .. '_level', math.min(0, tonumber(redis.call('HGET', h, names[i] .. '_level'))))
    end
  end
elseif outcome == 'overloaded' then
  local streak = redis.call('HINCRBY', h, 'overload_streak', 1)
  local d = math.min(tonumber(ARGV[9]), tonumber(ARGV[8]) * 2 ^ (streak - 1))
  d = d / 2 + d / 2 * tonumber(ARGV[10])
  local ra = tonumber(ARGV[5])
  if ra > d then d = ra end
  if now + d > paused then
    paused = now + d
    redis.call('HSET', h, 'paused_until', paused, 'pause_reason', 'overloaded')
  end
end
redis.call('HSET', h, 'factor', factor, 'burst_ms', burst)
return { tostring(paused), tostring(factor) }
`;

type Scripts = Redis & {
  promptqLimiterAdmit(key: string, ...args: Array<string | number>): Promise<[number, string]>;
  promptqLimiterObserve(key: string, ...args: Array<string | number>): Promise<string>;
  promptqLimiterSettle(key: string, ...args: Array<string | number>): Promise<[string, string]>;
};

function scripts(redis: Redis): Scripts {
  const r = redis as Scripts;
  if (typeof r.promptqLimiterAdmit !== 'function') {
    redis.defineCommand('promptqLimiterAdmit', { numberOfKeys: 1, lua: admitLua });
    redis.defineCommand('promptqLimiterObserve', { numberOfKeys: 1, lua: observeLua });
    redis.defineCommand('promptqLimiterSettle', { numberOfKeys: 1, lua: settleLua });
  }
  return r;
}

export type AdmitState = 'ok' | 'probe' | 'headerless' | 'paused' | 'pacing' | 'discovering';

export interface Costs {
  req: number;
  in: number;
  out: number;
}

export interface BucketTuning {
  /** Share of the announced limit to aim for. @defaultValue 0.995 */
  target: number;
  /** Bucket capacity in ms of refill: the largest burst sent. @defaultValue 1000 */
  burstMs: number;
  /**
   * Refill time kept in reserve (never spent): absorbs the jitter between admission here and arrival
   * at the API. @defaultValue 200
   */
  reserveMs: number;
  /** Discovery probe lifetime (a dead prober frees the group after this). @defaultValue 10000 */
  probeTtlMs: number;
  /** Floor of the pace multiplier. @defaultValue 0.3 */
  minFactor: number;
  /** First 529 backoff for the group. @defaultValue 1000 */
  overloadBaseMs: number;
  /** Longest 529 backoff. @defaultValue 30000 */
  overloadMaxMs: number;
}

export const defaultTuning: BucketTuning = {
  target: 0.995,
  burstMs: 1000,
  reserveMs: 200,
  probeTtlMs: 10_000,
  minFactor: 0.3,
  overloadBaseMs: 1000,
  overloadMaxMs: 30_000,
};

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
}

/** Typed access to the scripts for one Redis connection. */
export class SharedLimiterState {
  readonly #redis: Scripts;
  readonly #tuning: BucketTuning;

  constructor(redis: Redis, tuning: Partial<BucketTuning> = {}) {
    this.#redis = scripts(redis);
    this.#tuning = { ...defaultTuning, ...tuning };
  }

  get tuning(): BucketTuning {
    return this.#tuning;
  }

  async admit(key: string, costs: Costs, now = Date.now()): Promise<{ waitMs: number; state: AdmitState }> {
    // (The ARGV order is fixed by admitLua's header.)
    const t = this.#tuning;
    const [wait, state] = await this.#redis.promptqLimiterAdmit(
      key,
      now,
      costs.req,
      costs.in,
      costs.out,
      t.target,
      t.burstMs,
      t.probeTtlMs,
      t.reserveMs,
    );
    return { waitMs: Number(wait), state: state as AdmitState };
  }

  /** Returns the limits known before this observation. */
  async observe(
    key: string,
    limits: Record<LimiterResource, number | undefined>,
    remaining: Record<LimiterResource, number | undefined>,
    ceilings: Record<LimiterResource, number>,
    now = Date.now(),
  ): Promise<Partial<Record<LimiterResource, number>>> {
    const n = (v: number | undefined) => (v === undefined ? -1 : v);
    const before = await this.#redis.promptqLimiterObserve(
      key,
      now,
      ...resources.map((r) => n(limits[r])),
      ...resources.map((r) => n(remaining[r])),
      ...resources.map((r) => ceilings[r]),
      this.#tuning.target,
      this.#tuning.burstMs,
    );
    const out: Partial<Record<LimiterResource, number>> = {};
    before.split(',').forEach((v, i) => {
      const r = resources[i];
      if (r && v !== '') out[r] = Number(v);
    });
    return out;
  }

  async settle(
    key: string,
    s: {
      outcome: 'success' | 'rate_limited' | 'overloaded' | 'other';
      refundIn: number;
      refundOut: number;
      retryAfterMs: number | null;
      inRatioSample: number | null;
      headersSeen: boolean;
      /** Admitted as the discovery probe (limits unknown). */
      probe?: boolean;
    },
    now = Date.now(),
    random: () => number = Math.random,
  ): Promise<{ pausedUntil: number; factor: number }> {
    const t = this.#tuning;
    const [paused, factor] = await this.#redis.promptqLimiterSettle(
      key,
      now,
      s.outcome,
      s.refundIn,
      s.refundOut,
      s.retryAfterMs ?? -1,
      t.burstMs,
      t.minFactor,
      t.overloadBaseMs,
      t.overloadMaxMs,
      random(),
      s.inRatioSample ?? -1,
      s.headersSeen ? 1 : 0,
      s.probe ? 1 : 0,
    );
    return { pausedUntil: Number(paused), factor: Number(factor) };
  }

  async read(key: string): Promise<GroupState> {
    const h = await this.#redis.hgetall(key);
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
    };
  }
}
