--[[
  Settle one answered request: give back what it did not use, then adapt the group's pace
  (additive recovery on success, multiplicative decrease and a pause on 429, exponential backoff
  on 529). The tuning numbers come from limiter/shared-state.ts (defaultTuning).

  Input:
    KEYS[1] the group's hash

    ARGV[1]  now (ms)
    ARGV[2]  outcome: success | rate_limited | overloaded | other
    ARGV[3]  input tokens to give back (negative = charge more)
    ARGV[4]  output tokens to give back (negative = charge more)
    ARGV[5]  retry-after (ms; -1 = none)
    ARGV[6]  default burst (ms): the ceiling burst recovers to
    ARGV[7]  floor of the pace factor
    ARGV[8]  first 529 backoff (ms)
    ARGV[9]  longest 529 backoff (ms)
    ARGV[10] jitter, 0..1
    ARGV[11] real/estimated input tokens of this request (-1 = none)
    ARGV[12] rate-limit headers: 1 = the answer carried them, 0 = an answer from the API without
             them, -1 = no answer (network error, timeout)
    ARGV[13] the request was the discovery probe: 1 / 0 (a 429 then teaches nothing about pace,
             the limits were unknown, so it only pauses)
    ARGV[14] pace recovery per success (added to the factor, up to 1)
    ARGV[15] burst recovery per success (ms, up to the default burst)
    ARGV[16] pace factor after a 429 (multiplier)
    ARGV[17] burst after a 429 (multiplier)
    ARGV[18] smallest burst (ms)
    ARGV[19] pause after a 429 without retry-after (ms)
    ARGV[20] weight of a new sample in the input-token ratio's moving average (0..1)
    ARGV[21] header-less: the first learned request limit (per minute)
    ARGV[22] header-less: added to the learned limit per success before the first 429 (slow start)
    ARGV[23] header-less: added to the learned limit per success after it
    ARGV[24] header-less: the learned limit after a 429 = min(limit, measured success rate) × this
    ARGV[25] header-less: the success-rate window (ms)

  Output:
    {pausedUntil, factor} as strings; the group's hash expires a day after this call
]]
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
-- Header-less: an answer from the API without rate-limit headers while none were ever seen. The
-- request limit is then learned (field learned = 1) from successes and 429s instead of read.
local learned = redis.call('HGET', h, 'learned') == '1'
if ARGV[12] == '0' and (outcome == 'success' or outcome == 'rate_limited') and not learned
   and redis.call('HEXISTS', h, 'req_limit') == 0 and redis.call('HEXISTS', h, 'in_limit') == 0
   and redis.call('HEXISTS', h, 'out_limit') == 0 then
  redis.call('HSET', h, 'headerless', '1')
end
if outcome == 'success' and redis.call('HGET', h, 'headerless') == '1' then
  local window = tonumber(ARGV[25])
  if not learned then
    learned = true
    redis.call('HSET', h, 'learned', '1', 'slow_start', '1', 'req_limit', tonumber(ARGV[21]), 'req_level', 0,
      'ts', now, 'ok_since', now, 'ok_count', 0)
  else
    local step = tonumber(ARGV[23])
    if redis.call('HGET', h, 'slow_start') == '1' then step = tonumber(ARGV[22]) end
    redis.call('HINCRBYFLOAT', h, 'req_limit', step)
  end
  -- Successes counted over about the last window: when it grows past two windows, keep the last
  -- one's worth at the average rate.
  local since = tonumber(redis.call('HGET', h, 'ok_since')) or now
  local count = tonumber(redis.call('HINCRBYFLOAT', h, 'ok_count', 1))
  if now - since > 2 * window then
    redis.call('HSET', h, 'ok_since', now - window, 'ok_count', count * window / (now - since))
  end
elseif outcome == 'rate_limited' and learned and ARGV[13] ~= '1'
   and now >= (tonumber(redis.call('HGET', h, 'learn_hold_until')) or 0) then
  -- Over the limit: the API's bucket is empty, so what got through lately is the limit itself.
  local limit = tonumber(redis.call('HGET', h, 'req_limit'))
  local since = tonumber(redis.call('HGET', h, 'ok_since')) or now
  local count = tonumber(redis.call('HGET', h, 'ok_count')) or 0
  local elapsed = now - since
  local measured = limit
  if elapsed >= 1000 and count >= 5 then measured = count * 60000 / elapsed end
  limit = math.max(1, math.min(limit, measured) * tonumber(ARGV[24]))
  redis.call('HSET', h, 'req_limit', limit, 'slow_start', '0')
end
redis.call('HDEL', h, 'probe_until')
if outcome == 'success' then
  factor = math.min(1, factor + tonumber(ARGV[14]))
  burst = math.min(default_burst, burst + tonumber(ARGV[15]))
  redis.call('HSET', h, 'overload_streak', 0)
  local sample = tonumber(ARGV[11])
  if sample > 0 then
    local w = tonumber(ARGV[20])
    local r = tonumber(redis.call('HGET', h, 'in_ratio')) or sample
    redis.call('HSET', h, 'in_ratio', r * (1 - w) + sample * w)
  end
elseif outcome == 'rate_limited' then
  -- A learned limit was just corrected above; the pace factor is for announced limits.
  if ARGV[13] ~= '1' and not learned then
    factor = math.max(tonumber(ARGV[7]), factor * tonumber(ARGV[16]))
    burst = math.max(tonumber(ARGV[18]), burst * tonumber(ARGV[17]))
  end
  local ra = tonumber(ARGV[5])
  if ra < 0 then ra = tonumber(ARGV[19]) end
  if now + ra > paused then
    paused = now + ra
    redis.call('HSET', h, 'paused_until', paused, 'pause_reason', 'rate_limited')
  end
  if learned then
    -- One correction per pause: the requests already in flight answer 429 too. Measure afresh from
    -- the end of the pause.
    redis.call('HSET', h, 'learn_hold_until', paused, 'ok_since', paused, 'ok_count', 0)
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
-- A group nobody uses any more goes away by itself, a day after its last answered request.
redis.call('PEXPIRE', h, 86400000)
return { tostring(paused), tostring(factor) }
