--[[
  Settle one answered request (docs/limiter.md states the algorithm): give back what it did not
  use, learn the answer's rate-limit headers, learn a header-less group's request limit, and adapt
  the group's pace (additive recovery on success, multiplicative decrease and a pause on 429,
  exponential backoff on 529). The tuning numbers come from the caller (config.limiter.tuning).

  Input:
    KEYS[1] the group's hash

    ARGV[1] the arguments, one JSON object:
      now            ms
      outcome        success | rate_limited | overloaded | other
      refund         {requests, input tokens, output tokens} to give back (negative = charge more;
                     requests: 1 for a call the API did not count, a 404 for a model it has not)
      retryAfterMs   -1 = none
      jitter         0..1
      inRatioSample  real/estimated input tokens of this request (-1 = none)
      headersSeen    1 = the answer carried rate-limit headers, 0 = an answer without them,
                     -1 = no answer (network error, timeout)
      discovery      true: the request was the discovery request (a 429 then teaches nothing
                     about pace, the limits were unknown, so it only pauses)
      probe          true: the request was the overload probe (limiter-admit-2.lua): its answer
                     ends the overload (a 529: the next pause, and the next probe after it)
      headers        (optional) the answer's headers to learn, as limiter-observe-1.lua takes them:
                     before the settle on success, after it on a 429/529
      tuning         config.limiter.tuning (core/settings.ts: what each number does)

  Output:
    {pausedUntil, factor, limitsBefore} as strings (limitsBefore: "req,in,out" known before the
    headers were learned, as limiter-observe-1.lua returns; '' without headers); the group's hash
    expires 12 to 24 hours after this call (expires_at: when, renewed below 12 hours)
]]
--- @include "limiter-hash"
--- @include "limiter-bucket"
--- @include "limiter-meter"
--- @include "limiter-learn-headers"
--- @include "limiter-learn-limit"

local a = cjson.decode(ARGV[1])
local t = a.tuning
local now = a.now
local outcome = a.outcome
local hash = load_hash(KEYS[1], { 'factor', 'burst_ms', 'paused_until', 'req_level', 'in_level',
  'out_level', 'learned', 'req_limit', 'in_limit', 'out_limit', 'headerless', 'slow_start',
  'learn_hold_until', 'probe_after', 'in_ratio', 'overload_streak', 'probe_until', 'ts', 'last_429',
  'caution_until', 'pause_reason', 'out_held', 'pace_ref_at', 'pace_ref_e', 'pace_ref_b', 'ok_start', 'ok_since', 'ok_count', 'ok_prev', 'sent_start',
  'sent_since', 'sent_count', 'sent_prev', 'expires_at' })
local f = hash.f

-- What the call did not use goes back to the group's buckets.
local function give_back()
  for i = 1, 3 do
    local level = num(hash, bucket_names[i] .. '_level')
    local d = a.refund[i]
    if d ~= 0 and level then put(hash, bucket_names[i] .. '_level', level + d) end
  end
end

-- Header-less (an answer from the API without rate-limit headers while none were ever seen): the
-- request limit is learned (include/limiter-learn-limit.lua) instead of read. Returns whether the
-- group's limit is a learned one.
local function learn_limit()
  local learned = f.learned == '1'
  local answered = outcome == 'success' or outcome == 'rate_limited'
  local known = f.req_limit or f.in_limit or f.out_limit
  if a.headersSeen == 0 and answered and not learned and not known then put(hash, 'headerless', '1') end
  if outcome == 'success' and f.headerless == '1' then
    if not learned then
      start_learning(hash, now, t)
      return true
    end
    raise_learned(hash, now, t)
  end
  return learned
end

-- Announced limits: a 429 starts an episode; the pace is cut once per episode, more when episodes
-- come close together (the headers overstate what this key gets).
local function cut_pace(factor, burst, last)
  local decreased = factor * t.decreaseFactor
  if last ~= nil and now - last < t.cautionMs then
    -- The API's bucket is empty, so what got through since the last episode is about the real
    -- limit: pace just under it (at most two decreases' worth in one step: the window may have
    -- held idle time), and climb back slowly.
    local req = num(hash, 'req_limit')
    local rpm = meter_rpm(hash, 'ok', now, t.learnWindowMs, 5)
    if req and req > 0 and rpm then
      local measured = rpm / (req * t.target)
      decreased = math.max(decreased * t.decreaseFactor, math.min(factor, measured) * t.learnDecrease)
    end
    put(hash, 'caution_until', now + t.cautionMs)
  end
  return math.max(t.minFactor, decreased), math.max(t.minBurstMs, burst * t.burstDecrease)
end

local function on_rate_limited(factor, burst, paused, learned)
  -- One correction per episode: the requests already in flight when the first 429 came answer
  -- 429 too (before the episode's pause ends), and teach nothing more.
  local last = num(hash, 'last_429')
  local episode = last == nil or now >= last
  if not a.discovery and not learned and episode then factor, burst = cut_pace(factor, burst, last) end
  local ra = a.retryAfterMs
  if ra < 0 then ra = t.pauseWithoutRetryAfterMs end
  if now + ra > paused then
    paused = now + ra
    put(hash, 'paused_until', paused)
    put(hash, 'pause_reason', 'rate_limited')
  end
  if learned and not a.discovery then
    correct_learned(hash, now, paused, t)
  elseif episode and not learned then
    -- The episode ends with its pause; successes are measured afresh from there.
    put(hash, 'last_429', paused)
    meter_restart(hash, 'ok', paused)
  end
  -- The API's bucket is empty: the remainders' trend is measured afresh (limiter-learn-headers.lua).
  del(hash, 'pace_ref_at')
  -- What was sent while we thought there was room did not all land: start from empty.
  for i = 1, 3 do
    local level = num(hash, bucket_names[i] .. '_level')
    if level then put(hash, bucket_names[i] .. '_level', math.min(0, level)) end
  end
  return factor, burst, paused
end

local function on_overloaded(paused)
  -- One step per episode: the 529s of requests already in flight when the first came answer during
  -- its pause, and are the same burst (with hundreds in flight, counting each doubled the backoff
  -- to its longest for one burst).
  if now < paused and f.pause_reason == 'overloaded' then return paused end
  local streak = (num(hash, 'overload_streak') or 0) + 1
  put(hash, 'overload_streak', streak)
  -- (One probe per pause: the pause bounds how late the group resumes after the overload ends, so
  -- it doubles up to overloadProbeMaxMs, not to the job backoff's longest.)
  local d = math.min(t.overloadMaxMs, t.overloadProbeMaxMs, t.overloadBaseMs * 2 ^ (streak - 1))
  d = d / 2 + d / 2 * a.jitter
  if a.retryAfterMs > d then d = a.retryAfterMs end
  if now + d > paused then
    paused = now + d
    put(hash, 'paused_until', paused)
    put(hash, 'pause_reason', 'overloaded')
  end
  return paused
end

local function on_success(factor, burst)
  -- Cautious (429 episodes close together under announced limits): climb back slowly.
  local step = t.recoveryStep
  if now < (num(hash, 'caution_until') or 0) then step = t.cautiousRecoveryStep end
  -- (Above 1 the headers understate: learned from their remainders, learn_pace; kept.)
  if factor < 1 then factor = math.min(1, factor + step) end
  burst = math.min(t.burstMs, burst + t.burstRecoveryMs)
  put(hash, 'overload_streak', 0)
  local sample = a.inRatioSample
  if sample > 0 then
    local w = t.inRatioWeight
    local r = num(hash, 'in_ratio') or sample
    put(hash, 'in_ratio', r * (1 - w) + sample * w)
  end
  return factor, burst
end

local pausing = outcome == 'rate_limited' or outcome == 'overloaded'
local before = ''
if a.headers and not pausing then before = learn_headers(hash, a.headers, t, now, outcome == 'success') end
local factor = num(hash, 'factor') or 1
local burst = num(hash, 'burst_ms') or t.burstMs
local paused = num(hash, 'paused_until') or 0
give_back()
local learned = learn_limit()
if outcome == 'success' and not a.discovery then meter_add(hash, 'ok', now, t.learnWindowMs, 1) end
-- The discovery request's or the overload probe's answer frees the next; the answers of calls sent
-- before an overload pause do not (they say nothing of the API since).
local overload = f.pause_reason == 'overloaded'
if not overload or a.probe then del(hash, 'probe_until') end
if a.probe and overload and outcome == 'success' then del(hash, 'pause_reason') end
if outcome == 'success' then
  factor, burst = on_success(factor, burst)
elseif outcome == 'rate_limited' then
  factor, burst, paused = on_rate_limited(factor, burst, paused, learned)
elseif outcome == 'overloaded' then
  paused = on_overloaded(paused)
end
put(hash, 'factor', factor)
put(hash, 'burst_ms', burst)
-- On a 429/529 the pause is set first, then the headers are learned.
if a.headers and pausing then before = learn_headers(hash, a.headers, t, now) end
-- A group nobody uses any more goes away by itself, a day after its last answered request: its
-- expiry is renewed (one PEXPIRE) when less than half a day of it is left, not on every answer.
local renew = (num(hash, 'expires_at') or 0) < now + 43200000
if renew then put(hash, 'expires_at', now + 86400000) end
flush(hash)
if renew then redis.call('PEXPIRE', hash.key, 86400000) end
return { tostring(paused), tostring(factor), before }
