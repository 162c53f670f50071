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
      refund         {input, output} tokens to give back (negative = charge more)
      retryAfterMs   -1 = none
      jitter         0..1
      inRatioSample  real/estimated input tokens of this request (-1 = none)
      headersSeen    1 = the answer carried rate-limit headers, 0 = an answer without them,
                     -1 = no answer (network error, timeout)
      discovery      true: the request was the discovery request (a 429 then teaches nothing
                     about pace, the limits were unknown, so it only pauses)
      headers        (optional) the answer's headers to learn, as limiter-observe-1.lua takes them:
                     before the settle on success, after it on a 429/529
      tuning         config.limiter.tuning (core/settings.ts: what each number does)

  Output:
    {pausedUntil, factor, limitsBefore} as strings (limitsBefore: "req,in,out" known before the
    headers were learned, as limiter-observe-1.lua returns; '' without headers); the group's hash
    expires a day after this call
]]
--- @include "limiter-hash"
--- @include "limiter-bucket"
--- @include "limiter-learn-headers"

local a = cjson.decode(ARGV[1])
local t = a.tuning
local now = a.now
local outcome = a.outcome
local hash = load_hash(KEYS[1], { 'factor', 'burst_ms', 'paused_until', 'req_level', 'in_level',
  'out_level', 'learned', 'req_limit', 'in_limit', 'out_limit', 'headerless', 'slow_start', 'ok_since',
  'ok_count', 'learn_hold_until', 'in_ratio', 'overload_streak', 'probe_until', 'ts', 'last_429',
  'caution_until', 'probe_rate', 'out_held' })
local f = hash.f

-- What the call did not use goes back to the group's buckets.
local function give_back()
  for i = 2, 3 do
    local level = num(hash, bucket_names[i] .. '_level')
    local d = a.refund[i - 1]
    if d ~= 0 and level then put(hash, bucket_names[i] .. '_level', level + d) end
  end
end

-- Successes counted over about the last window (every group: a learned limit and a cautious pace
-- are both corrected from it): past two windows, keep the last one's worth at the average rate.
local function count_success()
  local window = t.learnWindowMs
  local since = num(hash, 'ok_since') or now
  local count = (num(hash, 'ok_count') or 0) + 1
  put(hash, 'ok_count', count)
  if not f.ok_since then put(hash, 'ok_since', now) end
  if now - since > 2 * window then
    put(hash, 'ok_since', now - window)
    put(hash, 'ok_count', count * window / (now - since))
  end
end

-- The success rate measured since ok_since (per minute), or nil with too little to go on.
local function measured_rpm()
  local since = num(hash, 'ok_since') or now
  local count = num(hash, 'ok_count') or 0
  if now - since >= 1000 and count >= 5 then return count * 60000 / (now - since) end
  return nil
end

-- Header-less (an answer from the API without rate-limit headers while none were ever seen): the
-- request limit is learned (learned = 1) from successes and 429s instead of read. Returns whether
-- the group's limit is a learned one.
local function learn_limit()
  local learned = f.learned == '1'
  local answered = outcome == 'success' or outcome == 'rate_limited'
  if a.headersSeen == 0 and answered and not learned and not f.req_limit and not f.in_limit
     and not f.out_limit then
    put(hash, 'headerless', '1')
  end
  if outcome == 'success' and f.headerless == '1' then
    if not learned then
      put(hash, 'learned', '1')
      put(hash, 'slow_start', '1')
      put(hash, 'req_limit', t.learnStartRpm)
      put(hash, 'req_level', 0)
      put(hash, 'ts', now)
      put(hash, 'ok_since', now)
      put(hash, 'ok_count', 0)
      return true
    end
    local step = t.learnStep
    if f.slow_start == '1' then step = t.learnSlowStartStep end
    put(hash, 'req_limit', (num(hash, 'req_limit') or 0) + step)
  elseif outcome == 'rate_limited' and learned and not a.discovery
     and now >= (num(hash, 'learn_hold_until') or 0) then
    -- Over the limit: the API's bucket is empty, so what got through lately is the limit itself.
    local limit = num(hash, 'req_limit')
    local measured = measured_rpm() or limit
    put(hash, 'req_limit', math.max(1, math.min(limit, measured) * t.learnDecrease))
    put(hash, 'slow_start', '0')
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
    local rpm = measured_rpm()
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
  if learned or episode then
    -- The episode ends with its pause; successes are measured afresh from there.
    if learned then put(hash, 'learn_hold_until', paused) else put(hash, 'last_429', paused) end
    put(hash, 'ok_since', paused)
    put(hash, 'ok_count', 0)
  end
  -- What was sent while we thought there was room did not all land: start from empty.
  for i = 1, 3 do
    local level = num(hash, bucket_names[i] .. '_level')
    if level then put(hash, bucket_names[i] .. '_level', math.min(0, level)) end
  end
  return factor, burst, paused
end

local function on_overloaded(paused)
  local streak = (num(hash, 'overload_streak') or 0) + 1
  put(hash, 'overload_streak', streak)
  local d = math.min(t.overloadMaxMs, t.overloadBaseMs * 2 ^ (streak - 1))
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
  factor = math.min(1, factor + step)
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
if a.headers and not pausing then before = learn_headers(hash, a.headers, t, now) end
local factor = num(hash, 'factor') or 1
local burst = num(hash, 'burst_ms') or t.burstMs
local paused = num(hash, 'paused_until') or 0
give_back()
local learned = learn_limit()
if outcome == 'success' and not a.discovery then count_success() end
del(hash, 'probe_until')
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
flush(hash)
-- A group nobody uses any more goes away by itself, a day after its last answered request.
redis.call('PEXPIRE', hash.key, 86400000)
return { tostring(paused), tostring(factor), before }
